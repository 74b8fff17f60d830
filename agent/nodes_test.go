package agent

import (
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestExpandHostlist(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"node1", []string{"node1"}},
		{"node1.cluster.org", []string{"node1.cluster.org"}},
		{"a,b,c", []string{"a", "b", "c"}},
		{"node[1-3]", []string{"node1", "node2", "node3"}},
		{"node[3]", []string{"node3"}},
		{"node[01-03,07]", []string{"node01", "node02", "node03", "node07"}},
		{"n[08-10]", []string{"n08", "n09", "n10"}},
		{"n[8-10]", []string{"n8", "n9", "n10"}},
		{"n[098-101]", []string{"n098", "n099", "n100", "n101"}},
		{"n[007]", []string{"n007"}},
		{"n[1,3-4]-ib", []string{"n1-ib", "n3-ib", "n4-ib"}},
		{"[1-2]x", []string{"1x", "2x"}},
		{"rack[1-2]-n[1-2]", []string{"rack1-n1", "rack1-n2", "rack2-n1", "rack2-n2"}},
		{"r[1-2]n[3,5]s[0]", []string{"r1n3s0", "r1n5s0", "r2n3s0", "r2n5s0"}},
		{"login1,node[1-2],gpu[07-08]", []string{"login1", "node1", "node2", "gpu07", "gpu08"}},
		{"c[5-5]", []string{"c5"}},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := expandHostlist(c.in)
			require.NoError(t, err)
			require.Equal(t, c.want, got)
		})
	}
}

func TestExpandHostlistLarge(t *testing.T) {
	got, err := expandHostlist("n[0001-1000],m[1-10]x[1-100]")
	require.NoError(t, err)
	require.Len(t, got, 2000)
	require.Equal(t, "n0001", got[0])
	require.Equal(t, "n1000", got[999])
	require.Equal(t, "m1x1", got[1000])
	require.Equal(t, "m10x100", got[1999])
}

func TestExpandHostlistErrors(t *testing.T) {
	cases := []struct {
		name, in string
		want     []string // substrings of the error
	}{
		{"empty", "", []string{`hostlist ""`, "empty host name"}},
		{"unclosed", "node[1-3", []string{`"node[1-3"`, "never closed", "position 5"}},
		{"stray close", "node1-3]", []string{"']' without '['", "position 8"}},
		{"nested", "n[1[2]]", []string{"nested", "position 4"}},
		{"descending", "n[3-1]", []string{`"n[3-1]"`, `descending range "3-1"`, "position 3"}},
		{"descending second", "n[1,5-2]", []string{`descending range "5-2"`, "position 5"}},
		{"letters", "n[a-c]", []string{`range "a-c"`, "decimal digits", "position 3"}},
		{"negative", "n[-1]", []string{`range "-1"`, "position 3"}},
		{"half range", "n[1-]", []string{`range "1-"`}},
		{"empty group", "n[]", []string{"empty '[]'", "position 2"}},
		{"empty entry", "n[1,,2]", []string{`range ""`, "position 5"}},
		{"extra comma", "a,,b", []string{"empty host name", "position 3"}},
		{"trailing comma", "a,", []string{"empty host name", "position 3"}},
		{"space", "a, b", []string{"white space", "position 3"}},
		{"huge number", "n[1-99999999999999999999]", []string{"too large"}},
		{"huge range", "n[1-99999999]", []string{"more than 1000000"}},
		{"huge product", "a[1-1000]b[1-1000]c[1-2]", []string{"more than 1000000 host names"}},
		{"huge sum", "a[1-600000],b[1-600000]", []string{"more than 1000000 host names"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := expandHostlist(c.in)
			require.Error(t, err, "got %v", got)
			for _, w := range c.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}

// fakeFiles is a readFile over a map; a missing path is fs.ErrNotExist.
func fakeFiles(files map[string]string) func(string) ([]byte, error) {
	return func(path string) ([]byte, error) {
		s, ok := files[path]
		if !ok {
			return nil, fmt.Errorf("open %s: %w", path, fs.ErrNotExist)
		}
		return []byte(s), nil
	}
}

func fakeEnv(vars map[string]string) func(string) string {
	return func(name string) string { return vars[name] }
}

func hostsOf(spec ...any) []string {
	var out []string
	for i := 0; i < len(spec); i += 2 {
		out = append(out, repeatHost(spec[i].(string), spec[i+1].(int))...)
	}
	return out
}

func TestDiscoverSlots(t *testing.T) {
	files := fakeFiles(map[string]string{
		"/pbs/nodes":       "n1\nn1\nn1\nn2\n\nn2\n",
		"/pbs/roundrobin":  "n1\nn2\nn1\nn3\n",
		"/pbs/crlf":        "n1\r\nn2\r\n  \r\n",
		"/sge/hosts":       "h1.x 4 all.q@h1.x UNDEFINED\nh2.x 2 all.q@h2.x UNDEFINED\n",
		"/sge/twoqueues":   "h1 2 a.q@h1 UNDEFINED\n\nh2 1 a.q@h2 UNDEFINED\nh1 1 b.q@h1 UNDEFINED\n",
		"/sge/shortfields": "h1 3\n",
	})
	cases := []struct {
		name   string
		env    map[string]string
		nprocs int
		want   []string
		source string // substring of the source
	}{
		{"default", nil, 4, hostsOf("localhost", 4), "number_of_processes=4"},
		{"default at least one", nil, 0, hostsOf("localhost", 1), "number_of_processes=1"},
		{"blank variables are unset", map[string]string{"GLIDEIN_CPUS": " ", "PBS_NODEFILE": ""}, 2, hostsOf("localhost", 2), "number_of_processes=2"},
		{"glidein", map[string]string{"GLIDEIN_CPUS": "3"}, 8, hostsOf("localhost", 3), "GLIDEIN_CPUS=3"},
		{"pbs counts kept as listed", map[string]string{"PBS_NODEFILE": "/pbs/nodes"}, 1, hostsOf("n1", 3, "n2", 2), "PBS_NODEFILE=/pbs/nodes (2 hosts, 5 slots)"},
		{"pbs grouped", map[string]string{"PBS_NODEFILE": "/pbs/roundrobin"}, 1, hostsOf("n1", 2, "n2", 1, "n3", 1), "3 hosts, 4 slots"},
		{"pbs crlf", map[string]string{"PBS_NODEFILE": "/pbs/crlf"}, 1, hostsOf("n1", 1, "n2", 1), "PBS_NODEFILE"},
		{"sge", map[string]string{"PE_HOSTFILE": "/sge/hosts"}, 1, hostsOf("h1.x", 4, "h2.x", 2), "PE_HOSTFILE=/sge/hosts (2 hosts, 6 slots)"},
		{"sge host in two queues", map[string]string{"PE_HOSTFILE": "/sge/twoqueues"}, 1, hostsOf("h1", 3, "h2", 1), "2 hosts, 4 slots"},
		{"sge two fields", map[string]string{"PE_HOSTFILE": "/sge/shortfields"}, 1, hostsOf("h1", 3), "PE_HOSTFILE"},
		{"slurm cpus per node", map[string]string{"SLURM_JOB_NODELIST": "node[1-3]", "SLURM_JOB_CPUS_PER_NODE": "4(x2),2"}, 1,
			hostsOf("node1", 4, "node2", 4, "node3", 2), "SLURM_JOB_NODELIST=node[1-3] × SLURM_JOB_CPUS_PER_NODE=4(x2),2"},
		{"slurm counts follow node order", map[string]string{"SLURM_JOB_NODELIST": "b,a[1-2]", "SLURM_JOB_CPUS_PER_NODE": "1,2,3"}, 1,
			hostsOf("b", 1, "a1", 2, "a2", 3), "SLURM_JOB_CPUS_PER_NODE=1,2,3"},
		{"slurm cpus on node", map[string]string{"SLURM_JOB_NODELIST": "n[01-02]", "SLURM_CPUS_ON_NODE": "2"}, 1,
			hostsOf("n01", 2, "n02", 2), "SLURM_CPUS_ON_NODE=2"},
		{"slurm default one cpu", map[string]string{"SLURM_NODELIST": "n[1-2]"}, 9,
			hostsOf("n1", 1, "n2", 1), "SLURM_NODELIST=n[1-2] × 1 CPU per node"},
		{"slurm job nodelist preferred", map[string]string{"SLURM_JOB_NODELIST": "a", "SLURM_NODELIST": "b"}, 1,
			hostsOf("a", 1), "SLURM_JOB_NODELIST=a"},
		{"slurm per-node beats on-node", map[string]string{"SLURM_JOB_NODELIST": "a", "SLURM_JOB_CPUS_PER_NODE": "5", "SLURM_CPUS_ON_NODE": "7"}, 1,
			hostsOf("a", 5), "SLURM_JOB_CPUS_PER_NODE=5"},
		// Precedence: the first source set wins, even if later ones are malformed.
		{"glidein before pbs", map[string]string{"GLIDEIN_CPUS": "2", "PBS_NODEFILE": "/missing", "SLURM_JOB_NODELIST": "x["}, 1,
			hostsOf("localhost", 2), "GLIDEIN_CPUS"},
		{"pbs before sge", map[string]string{"PBS_NODEFILE": "/pbs/crlf", "PE_HOSTFILE": "/missing"}, 1,
			hostsOf("n1", 1, "n2", 1), "PBS_NODEFILE"},
		{"sge before slurm", map[string]string{"PE_HOSTFILE": "/sge/shortfields", "SLURM_JOB_NODELIST": "x["}, 1,
			hostsOf("h1", 3), "PE_HOSTFILE"},
		{"slurm before default", map[string]string{"SLURM_JOB_NODELIST": "z"}, 16, hostsOf("z", 1), "SLURM_JOB_NODELIST"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hosts, source, err := discoverSlots(fakeEnv(c.env), files, c.nprocs)
			require.NoError(t, err)
			require.Equal(t, c.want, hosts)
			require.Contains(t, source, c.source)
		})
	}
}

func TestDiscoverSlotsErrors(t *testing.T) {
	files := fakeFiles(map[string]string{
		"/empty":      "\n \n",
		"/pbs/fields": "n1\nn2 4\n",
		"/sge/nocnt":  "h1\n",
		"/sge/badcnt": "h1 2 q UNDEFINED\nh2 many q UNDEFINED\n",
		"/sge/zero":   "h1 0 q UNDEFINED\n",
		"/sge/huge":   "h1 600000 q x\nh2 600000 q x\n",
	})
	cases := []struct {
		name   string
		env    map[string]string
		nprocs int
		want   []string
	}{
		{"glidein letters", map[string]string{"GLIDEIN_CPUS": "abc"}, 1, []string{`GLIDEIN_CPUS="abc"`, "not a whole number", "expected"}},
		{"glidein zero", map[string]string{"GLIDEIN_CPUS": "0"}, 1, []string{`GLIDEIN_CPUS="0"`, "not positive"}},
		{"glidein huge", map[string]string{"GLIDEIN_CPUS": "2000000"}, 1, []string{"GLIDEIN_CPUS", "more than 1000000"}},
		{"pbs missing", map[string]string{"PBS_NODEFILE": "/nope"}, 1, []string{`PBS_NODEFILE="/nope"`, "cannot read", "does not exist"}},
		{"pbs empty", map[string]string{"PBS_NODEFILE": "/empty"}, 1, []string{`PBS_NODEFILE="/empty"`, "lists no hosts"}},
		{"pbs two fields", map[string]string{"PBS_NODEFILE": "/pbs/fields"}, 1, []string{"PBS_NODEFILE", `line 2 "n2 4"`, "one host name per line"}},
		{"sge missing", map[string]string{"PE_HOSTFILE": "/nope"}, 1, []string{`PE_HOSTFILE="/nope"`, "cannot read"}},
		{"sge empty", map[string]string{"PE_HOSTFILE": "/empty"}, 1, []string{"PE_HOSTFILE", "lists no hosts"}},
		{"sge no count", map[string]string{"PE_HOSTFILE": "/sge/nocnt"}, 1, []string{"PE_HOSTFILE", `line 1 "h1"`, "no slot count"}},
		{"sge bad count", map[string]string{"PE_HOSTFILE": "/sge/badcnt"}, 1, []string{"PE_HOSTFILE", `line 2 slot count "many"`}},
		{"sge zero count", map[string]string{"PE_HOSTFILE": "/sge/zero"}, 1, []string{"PE_HOSTFILE", `"0"`, "not positive"}},
		{"sge too many", map[string]string{"PE_HOSTFILE": "/sge/huge"}, 1, []string{"PE_HOSTFILE", "more than 1000000 slots"}},
		{"slurm bad list", map[string]string{"SLURM_JOB_NODELIST": "n[1-"}, 1, []string{"SLURM_JOB_NODELIST", `hostlist "n[1-" at position 2`}},
		{"slurm bad list old name", map[string]string{"SLURM_NODELIST": "n[2-1]"}, 1, []string{"SLURM_NODELIST:", "descending"}},
		{"slurm fewer counts", map[string]string{"SLURM_JOB_NODELIST": "n[1-3]", "SLURM_JOB_CPUS_PER_NODE": "4(x2)"}, 1,
			[]string{`SLURM_JOB_CPUS_PER_NODE="4(x2)"`, "2 counts for 3 nodes", `SLURM_JOB_NODELIST="n[1-3]"`}},
		{"slurm more counts", map[string]string{"SLURM_JOB_NODELIST": "n[1-2]", "SLURM_JOB_CPUS_PER_NODE": "4(x2),1"}, 1,
			[]string{"SLURM_JOB_CPUS_PER_NODE", "more counts than the 2 nodes"}},
		{"slurm absurd repeat", map[string]string{"SLURM_JOB_NODELIST": "n1", "SLURM_JOB_CPUS_PER_NODE": "4(x99999999999)"}, 1,
			[]string{"SLURM_JOB_CPUS_PER_NODE", "more counts"}},
		{"slurm bad count", map[string]string{"SLURM_JOB_NODELIST": "n1", "SLURM_JOB_CPUS_PER_NODE": "four"}, 1,
			[]string{`SLURM_JOB_CPUS_PER_NODE="four"`, `count "four"`}},
		{"slurm bad repeat", map[string]string{"SLURM_JOB_NODELIST": "n1", "SLURM_JOB_CPUS_PER_NODE": "4(x0)"}, 1,
			[]string{"SLURM_JOB_CPUS_PER_NODE", `repeat "0"`}},
		{"slurm bad shape", map[string]string{"SLURM_JOB_NODELIST": "n1", "SLURM_JOB_CPUS_PER_NODE": "4(2)"}, 1,
			[]string{"SLURM_JOB_CPUS_PER_NODE", "not N or N(xM)"}},
		{"slurm unclosed repeat", map[string]string{"SLURM_JOB_NODELIST": "n1", "SLURM_JOB_CPUS_PER_NODE": "4(x1"}, 1,
			[]string{"SLURM_JOB_CPUS_PER_NODE", "not N or N(xM)"}},
		{"slurm bad cpus on node", map[string]string{"SLURM_JOB_NODELIST": "n1", "SLURM_CPUS_ON_NODE": "-2"}, 1,
			[]string{`SLURM_CPUS_ON_NODE="-2"`, "not positive"}},
		{"slurm too many slots", map[string]string{"SLURM_JOB_NODELIST": "n[1-2000]", "SLURM_CPUS_ON_NODE": "1000"}, 1,
			[]string{"SLURM_JOB_NODELIST", "more than 1000000 slots"}},
		{"default too many", nil, 2_000_000, []string{"number_of_processes", "more than 1000000"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hosts, _, err := discoverSlots(fakeEnv(c.env), files, c.nprocs)
			require.Error(t, err, "got %d hosts", len(hosts))
			require.Nil(t, hosts)
			for _, w := range c.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestDiscoverSlotsKeepsReadError(t *testing.T) {
	_, _, err := discoverSlots(fakeEnv(map[string]string{"PBS_NODEFILE": "/nope"}), fakeFiles(nil), 1)
	require.ErrorIs(t, err, fs.ErrNotExist)
}

// The hosts discoverSlots returns fill a slotPool in allocation order.
func TestDiscoverSlotsFeedPool(t *testing.T) {
	env := fakeEnv(map[string]string{"SLURM_JOB_NODELIST": "n[1-2]", "SLURM_JOB_CPUS_PER_NODE": "2(x2)"})
	hosts, _, err := discoverSlots(env, fakeFiles(nil), 1)
	require.NoError(t, err)
	p := newSlotPool(hosts)
	require.Equal(t, 4, p.total)
	require.Equal(t, []string{"n1", "n1", "n2"}, p.take(3))
}

func TestIsLocalHost(t *testing.T) {
	self := []string{"node1.cluster.org", "node1", "Node1.Cluster.Org"}
	cases := []struct {
		host string
		self []string
		want bool
	}{
		{"localhost", nil, true},
		{"LOCALHOST", nil, true},
		{"localhost.localdomain", nil, true},
		{"127.0.0.1", nil, true},
		{"127.0.1.1", nil, true},
		{"::1", nil, true},
		{"[::1]", nil, true},
		{"node1", self, true},
		{"NODE1", self, true},
		{"node1.cluster.org", self, true},
		{"node1.cluster.org.", self, true},
		{"node1.ib.cluster.org", self, true},
		{"node1.cluster.org", []string{"node1"}, true},
		{"node1", []string{"node1.cluster.org"}, true},
		{"node1.a.org", []string{"node1.b.org"}, false},
		{"node2", self, false},
		{"node10", self, false},
		{"node2.cluster.org", self, false},
		{"", self, false},
		{"node1", nil, false},
		{"node1", []string{""}, false},
		{"10.0.0.5", []string{"10.0.0.5"}, true},
		{"10.0.0.5", []string{"10.1.2.3", "10"}, false},
		{"10.0.0.5", []string{"node1"}, false},
		{"192.168.0.1", nil, false},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s in %s", c.host, strings.Join(c.self, ",")), func(t *testing.T) {
			require.Equal(t, c.want, isLocalHost(c.host, c.self))
		})
	}
}
