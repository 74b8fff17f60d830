// Package unsupported registers the resource URL schemes of the original
// BigJob that this implementation does not provide (cloud VMs, Globus GRAM,
// GSI-SSH), so that create_pilot fails at once with an error that names the
// scheme and the way to get the same result.
package unsupported

import (
	"fmt"
	"net/url"

	"github.com/bigjob-go/bigjob/adaptors"
)

// schemes maps each scheme to what it was and what to use instead.
var schemes = map[string][2]string{
	"ec2+ssh":          {"Amazon EC2 virtual machines", vm},
	"euca+ssh":         {"Eucalyptus virtual machines", vm},
	"nova+ssh":         {"OpenStack Nova virtual machines", vm},
	"gce+ssh":          {"Google Compute Engine virtual machines", vm},
	"gram":             {"Globus GRAM", "submit through the site's batch system, e.g. slurm+ssh://, pbs+ssh:// or sge+ssh:// to its login node"},
	"condorg":          {"Condor-G grid submission", "use condor:// on a Condor submit host, or the site's batch system"},
	"gsissh":           {"GSI-SSH with grid certificates", "use ssh:// with an SSH key"},
	"slurm+gsissh":     {"GSI-SSH with grid certificates", "use slurm+ssh:// with an SSH key"},
	"pbs+gsissh":       {"GSI-SSH with grid certificates", "use pbs+ssh:// with an SSH key"},
	"xt5torque+gsissh": {"GSI-SSH with grid certificates", "use xt5torque+ssh:// with an SSH key"},
	"sge+gsissh":       {"GSI-SSH with grid certificates", "use sge+ssh:// with an SSH key"},
}

const vm = "start the virtual machine yourself and use ssh://<user>@<its address>"

func init() {
	for scheme, s := range schemes {
		adaptors.Register(scheme, func(*url.URL) (adaptors.Adaptor, error) {
			return nil, fmt.Errorf("scheme %q (%s) is not supported: %s", scheme, s[0], s[1])
		})
	}
}
