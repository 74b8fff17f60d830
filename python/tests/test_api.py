"""The names BigJob scripts use, and their static behaviour (no store needed)."""
import copy
import pickle
import unittest


class TestNames(unittest.TestCase):
    def test_pilot_module_names(self):
        import pilot
        for name in ["PilotComputeService", "PilotCompute", "ComputeUnit", "PilotDataService", "PilotData",
                     "DataUnit", "ComputeDataService", "ComputeDataServiceDecentral",
                     "ComputeDataServiceCentral", "ComputeUnitService", "DataUnitService", "PilotError", "State",
                     "PilotComputeDescription", "ComputeUnitDescription", "DataUnitDescription",
                     "application_id", "version", "bigjob"]:
            self.assertTrue(hasattr(pilot, name), name)
        self.assertEqual(pilot.application_id, "bigjob")
        self.assertIs(pilot.ComputeDataService, pilot.ComputeDataServiceDecentral)
        self.assertTrue(pilot.version and pilot.version[0].isdigit(), pilot.version)
        import pilot.api
        self.assertTrue(hasattr(pilot.api, "PilotDataDescription"))
        self.assertTrue(hasattr(pilot.api, "Callback"))

    def test_state_strings(self):
        from pilot import State
        for s in ["Unknown", "New", "Running", "Done", "Canceled", "Failed", "Pending"]:
            self.assertEqual(getattr(State, s), s)

    def test_stubs_raise(self):
        import pilot
        for cls in (pilot.ComputeUnitService, pilot.DataUnitService):
            with self.assertRaises(NotImplementedError) as cm:
                cls()
            self.assertIn("Please use ComputeDataService.", str(cm.exception))

    def test_pilot_error(self):
        from pilot import PilotError
        e = PilotError("something broke")
        self.assertEqual(e.value, "something broke")
        self.assertEqual(str(e), repr("something broke"))

    def test_no_coordination_url(self):
        import pilot
        with self.assertRaises(Exception) as cm:
            pilot.PilotComputeService("")
        self.assertIn("No COORDINATION_URL specified", str(cm.exception))

    def test_legacy_names(self):
        import bigjob
        from bigjob import bigjob as bj_class, subjob, description, logger
        self.assertTrue(callable(bj_class) and callable(subjob) and callable(description))
        self.assertEqual(logger.name, "bigjob")
        self.assertEqual(bigjob.version, __import__("pilot").version)
        for s in ["Running", "New", "Staging", "Failed", "Done", "Unknown"]:
            self.assertEqual(getattr(bigjob.state, s), s)
        from bigjob.bigjob_manager import BigJobError
        e = BigJobError("x")
        self.assertEqual((e.value, str(e)), ("x", repr("x")))
        import bigjob_dynamic.many_job  # noqa: F401
        import bigjob_dynamic.many_job_affinity  # noqa: F401

    def test_saga_stand_in(self):
        import saga
        import saga.filesystem
        with self.assertRaises(NotImplementedError) as cm:
            saga.filesystem.File("sftp://host/file")
        self.assertIn("saga-python is not part", str(cm.exception))


class TestDescriptions(unittest.TestCase):
    def test_attribute_style(self):
        import pilot
        pd = pilot.PilotComputeDescription()
        pd.service_url = "fork://localhost"
        pd.number_of_processes = 4
        self.assertEqual(pd, {"service_url": "fork://localhost", "number_of_processes": 4})
        self.assertEqual(pd.number_of_processes, 4)
        self.assertIsInstance(pd, dict)
        cu = pilot.ComputeUnitDescription()
        cu.environment = {"TASK_NO": 3}
        self.assertEqual(cu["environment"], {"TASK_NO": 3})
        with self.assertRaises(KeyError):  # as in BigJob: KeyError, not AttributeError
            cu.executable
        del cu.environment
        self.assertEqual(cu, {})

    def test_copy_and_pickle(self):
        import pilot
        cu = pilot.ComputeUnitDescription()
        cu.executable = "/bin/date"
        self.assertEqual(copy.deepcopy(cu), cu)
        self.assertEqual(pickle.loads(pickle.dumps(cu)), cu)

    def test_legacy_description_camel_case(self):
        from bigjob import description
        jd = description()
        jd.executable = "/bin/echo"
        jd.number_of_processes = "1"
        jd.arguments = ["a"]
        jd.SPMDVariation = "single"
        jd.my_own_attribute = 7
        self.assertEqual(jd.Executable, "/bin/echo")
        self.assertEqual(jd.spmd_variation, "single")
        self.assertIsNone(jd.working_directory)  # known, unset
        self.assertEqual(jd.list_attributes(), ["Arguments", "Executable", "NumberOfProcesses", "SPMDVariation",
                                                "my_own_attribute"])
        self.assertEqual(jd.as_dict(), {"executable": "/bin/echo", "number_of_processes": "1", "arguments": ["a"],
                                        "spmd_variation": "single", "my_own_attribute": 7})
        with self.assertRaises(AttributeError):
            jd.no_such_thing


if __name__ == "__main__":
    unittest.main()
