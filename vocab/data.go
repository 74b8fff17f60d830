package vocab

import (
	"fmt"
	"net/url"
	"strings"
)

// The descriptions' names, as DescriptionError.Description says them.
const (
	PilotDataDescriptionName = "pilot data description"
	DataUnitDescriptionName  = "data unit description"
)

// PilotDataDescription describes a Pilot-Data: storage on a resource where
// data units are kept (BigJob's pilot data description).
type PilotDataDescription struct {
	ServiceURL string // service_url: file:///path, a plain path, or ssh://[user@]host/path (this or Pilot)
	Pilot      string // pilot: the URL of a pilot whose sandbox keeps the data (an extension; this or ServiceURL)
	Size       int    // size: megabytes; recorded, not enforced

	AffinityDatacenterLabel string // affinity_datacenter_label
	AffinityMachineLabel    string // affinity_machine_label

	Extra map[string]any // every other key, as given (userkey, access_key_id, ...)
}

// DataUnitDescription describes a data unit: a set of files (BigJob's data
// unit description).
type DataUnitDescription struct {
	FileURLs []string // file_urls: local paths or file:// URLs of the files (an empty list: an empty unit)

	AffinityDatacenterLabel string // affinity_datacenter_label
	AffinityMachineLabel    string // affinity_machine_label

	Extra map[string]any // every other key, as given
}

// ParsePilotDataDescription reads a pilot data description dictionary.
// Errors are *DescriptionError.
func ParsePilotDataDescription(m map[string]any) (PilotDataDescription, error) {
	return parsePilotData(sortedKeys(m))
}

func parsePilotData(kv []keyValue) (PilotDataDescription, error) {
	var d PilotDataDescription
	p := parser{desc: PilotDataDescriptionName}
	for _, e := range kv {
		k, v := e.key, e.val
		switch k {
		case "service_url":
			d.ServiceURL = p.str(k, v)
		case "pilot":
			d.Pilot = p.str(k, v)
		case "size":
			if v != nil {
				d.Size = p.positive(k, v)
			}
		case "affinity_datacenter_label":
			d.AffinityDatacenterLabel = p.str(k, v)
		case "affinity_machine_label":
			d.AffinityMachineLabel = p.str(k, v)
		default:
			putExtra(&d.Extra, k, v)
		}
	}
	if p.err != nil {
		return PilotDataDescription{}, p.err
	}
	return d, d.Validate()
}

// Validate checks the description and reports the first problem.
func (d PilotDataDescription) Validate() error {
	url, pilot := strings.TrimSpace(d.ServiceURL) != "", strings.TrimSpace(d.Pilot) != ""
	switch {
	case !url && !pilot:
		return &DescriptionError{Description: PilotDataDescriptionName, Key: "service_url",
			Problem: `missing; give where the data is kept, e.g. "file:///scratch/pilot-data" or "ssh://host/scratch/pilot-data", or "pilot": a pilot's URL to keep it in that pilot's sandbox`}
	case url && pilot:
		return &DescriptionError{Description: PilotDataDescriptionName, Key: "pilot",
			Problem: "given with service_url; give one: service_url for a place of your choice, or pilot for the pilot's sandbox"}
	}
	if d.Size < 0 {
		return &DescriptionError{Description: PilotDataDescriptionName, Key: "size", Problem: fmt.Sprintf("%d is not a positive number of megabytes", d.Size)}
	}
	return nil
}

// MarshalJSON writes the canonical form.
func (d PilotDataDescription) MarshalJSON() ([]byte, error) {
	o := orderedObject{}
	o.str("service_url", d.ServiceURL)
	o.str("pilot", d.Pilot)
	o.int("size", d.Size)
	o.str("affinity_datacenter_label", d.AffinityDatacenterLabel)
	o.str("affinity_machine_label", d.AffinityMachineLabel)
	o.extra(d.Extra)
	return o.marshal()
}

// UnmarshalJSON accepts the same loose forms as ParsePilotDataDescription.
func (d *PilotDataDescription) UnmarshalJSON(b []byte) error {
	kv, err := decodeFields(b, PilotDataDescriptionName)
	if err != nil {
		return err
	}
	*d, err = parsePilotData(kv)
	return err
}

// ParseDataUnitDescription reads a data unit description dictionary.
// Errors are *DescriptionError.
func ParseDataUnitDescription(m map[string]any) (DataUnitDescription, error) {
	return parseDataUnit(sortedKeys(m))
}

func parseDataUnit(kv []keyValue) (DataUnitDescription, error) {
	var d DataUnitDescription
	p := parser{desc: DataUnitDescriptionName}
	for _, e := range kv {
		k, v := e.key, e.val
		switch k {
		case "file_urls":
			d.FileURLs = p.strList(k, v)
		case "affinity_datacenter_label":
			d.AffinityDatacenterLabel = p.str(k, v)
		case "affinity_machine_label":
			d.AffinityMachineLabel = p.str(k, v)
		default:
			putExtra(&d.Extra, k, v)
		}
	}
	if p.err != nil {
		return DataUnitDescription{}, p.err
	}
	return d, d.Validate()
}

// Validate checks the description: every file URL is a local path or a
// file:// URL (files on other hosts are placed with a Pilot-Data there).
func (d DataUnitDescription) Validate() error {
	for _, f := range d.FileURLs {
		if _, err := LocalFile(f); err != nil {
			return &DescriptionError{Description: DataUnitDescriptionName, Key: "file_urls", Problem: err.Error()}
		}
	}
	return nil
}

// LocalFile is the path of a data unit's file URL on this machine: a path
// (relative to the current directory, ~ expanded by the caller), a
// file:///path URL, or ssh://localhost/path (the original's way of naming
// local files).
func LocalFile(fileURL string) (string, error) {
	if !strings.Contains(fileURL, "://") {
		if fileURL == "" {
			return "", fmt.Errorf("an empty file name")
		}
		return fileURL, nil
	}
	u, err := url.Parse(fileURL)
	if err != nil {
		return "", fmt.Errorf("%q is not a URL: %v", fileURL, err)
	}
	switch {
	case u.Scheme == "file" && (u.Host == "" || u.Host == "localhost"):
	case (u.Scheme == "ssh" || u.Scheme == "sftp") && (u.Hostname() == "localhost" || u.Hostname() == "127.0.0.1"):
	default:
		return "", fmt.Errorf("%q is not a file of this machine; give a local path or a file:// URL "+
			"(files elsewhere are placed into a data unit by a Pilot-Data there)", fileURL)
	}
	if u.Path == "" {
		return "", fmt.Errorf("%q names no file", fileURL)
	}
	return u.Path, nil
}

// MarshalJSON writes the canonical form.
func (d DataUnitDescription) MarshalJSON() ([]byte, error) {
	o := orderedObject{}
	if d.FileURLs != nil {
		o.add("file_urls", d.FileURLs)
	}
	o.str("affinity_datacenter_label", d.AffinityDatacenterLabel)
	o.str("affinity_machine_label", d.AffinityMachineLabel)
	o.extra(d.Extra)
	return o.marshal()
}

// UnmarshalJSON accepts the same loose forms as ParseDataUnitDescription.
func (d *DataUnitDescription) UnmarshalJSON(b []byte) error {
	kv, err := decodeFields(b, DataUnitDescriptionName)
	if err != nil {
		return err
	}
	*d, err = parseDataUnit(kv)
	return err
}
