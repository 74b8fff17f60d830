package vocab

import (
	"encoding/json"
	"testing"
)

var benchDesc = []byte(`{"executable": "/bin/echo", "arguments": ["Hello", "$ENV1", "I am CU number 1"], "environment": ["ENV1=World"], "number_of_processes": 1, "spmd_variation": "single", "output": "stdout.txt", "error": "stderr.txt"}`)

func BenchmarkUnitDescriptionDecode(b *testing.B) {
	for b.Loop() {
		var d UnitDescription
		if err := d.UnmarshalJSON(benchDesc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnitDescriptionEncode(b *testing.B) {
	var d UnitDescription
	json.Unmarshal(benchDesc, &d)
	for b.Loop() {
		if _, err := json.Marshal(d.WithDefaults()); err != nil {
			b.Fatal(err)
		}
	}
}
