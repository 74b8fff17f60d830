"""Description dictionaries: plain dicts that also allow attribute access."""


class Description(dict):
    """A dict whose keys can be read and set as attributes, as BigJob's
    descriptions: pd.number_of_processes = 4 sets pd["number_of_processes"].
    Reading a missing key raises KeyError, as in BigJob (names with double
    underscores raise AttributeError, so that copy and pickle work)."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return self[name]

    def __setattr__(self, name, value):
        self[name] = value

    def __delattr__(self, name):
        del self[name]


class PilotComputeDescription(Description):
    """Keys: service_url, number_of_processes, processes_per_node,
    working_directory, walltime (minutes), queue, project (or allocation),
    spmd_variation, file_transfer, affinity_datacenter_label,
    affinity_machine_label, number_executor_threads, no_exec; any other key
    is kept."""


class ComputeUnitDescription(Description):
    """Keys: executable, arguments, environment (dict or list of "K=V"),
    number_of_processes, spmd_variation ("single" or "mpi"),
    working_directory, output, error, input, file_transfer, input_data,
    output_data, affinity_datacenter_label, affinity_machine_label; any other
    key is kept."""


class DataUnitDescription(Description):
    """Keys: file_urls, affinity_datacenter_label, affinity_machine_label."""


class PilotDataDescription(Description):
    """Keys: service_url, size, affinity_datacenter_label,
    affinity_machine_label, userkey."""
