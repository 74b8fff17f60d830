"""The legacy bigjob API: bigjob, subjob, description, logger, bigjob_dynamic."""
import os
import time
import unittest

from tests.support import BackendCase, run_python, sandbox_outputs


class TestLegacy(BackendCase):
    def test_bigjob_subjob(self):
        from bigjob import bigjob, subjob, description
        from bigjob.bigjob_manager import BigJobError
        for name, url in self.backends:
            wd = self.scratch()
            bj = bigjob(url)
            # positional, as the original tests call it
            pilot_url = bj.start_pilot_job("fork://localhost", 4, None, None, wd, None, None, 1)
            self.services.append(bj._pcs)
            self.assertEqual(pilot_url, bj.pilot_url)
            self.assertTrue(pilot_url.startswith("bigjob:bj-") and pilot_url.endswith(":localhost"), pilot_url)
            self.assertEqual(bj.uuid, pilot_url.split(":")[1])
            with self.assertRaises(BigJobError) as cm:
                bj.start_pilot_job("fork://localhost")
            self.assertIn("One BigJob already active", cm.exception.value)

            jd = description()
            jd.executable = "/bin/echo"
            jd.number_of_processes = "1"
            jd.spmd_variation = "single"
            jd.arguments = ["$HELLOWORLD"]
            jd.environment = ["HELLOWORLD=hello_world"]
            subjobs = []
            for _ in range(3):  # one jd reused for many submissions
                sj = subjob()
                sj.submit_job(bj.pilot_url, jd)
                subjobs.append(sj)
            for sj in subjobs:
                while True:
                    state = str(sj.get_state())
                    if state in ("Done", "Failed"):
                        break
                    time.sleep(0.05)
                self.assertEqual(state, "Done", name)
                self.assertTrue(repr(sj).startswith(pilot_url + ":jobs:sj-"), repr(sj))
                self.assertEqual(sj.uuid, repr(sj).split(":")[-1])
                self.assertEqual(sj.get_exe(), "/bin/echo")
                self.assertEqual(sj.get_arguments(), ["$HELLOWORLD"])
                self.assertEqual(sj.get_details()["exit_code"], "0")
            self.assertEqual(sandbox_outputs(wd), ["hello_world\n"] * 3)
            self.assertEqual(sorted(bj.list_subjobs()), sorted(sj.get_url() for sj in subjobs))
            self.assertEqual(bj.get_free_nodes(), 4)
            self.assertEqual(bj.get_details()["state"], "Running")
            bj.wait()

            # reconnect in the same process, by relative and by full URL
            again = bigjob(url, pilot_url=bj.pilot_url)
            self.assertEqual(again.get_url(), bj.get_url())
            full = bigjob(url, pilot_url=bj.get_url())
            self.assertEqual(full.get_state(), "Running")
            sj = subjob(subjob_url=subjobs[0].get_url())
            self.assertEqual(sj.get_state(), "Done")
            sj2 = subjob()
            sj2.submit_job(bj.get_url(), {"executable": "/bin/true"})  # full URL and a plain dict
            sj2.wait()
            self.assertEqual(sj2.get_state(), "Done")

            bj.cancel()
            self.assertEqual(bj.get_state(), "Done")

    def test_unknown_pilot_url(self):
        from bigjob import subjob
        from bigjob.bigjob_manager import BigJobError
        with self.assertRaises(BigJobError) as cm:
            subjob().submit_job("bigjob:bj-nope:localhost", {"executable": "/bin/true"})
        self.assertIn("no bigjob with pilot URL", cm.exception.value)

    def test_many_job(self):
        from bigjob_dynamic.many_job import many_job_service
        for name, url in self.backends:
            wd = self.scratch()
            mjs = many_job_service([{"resource_url": "fork://localhost", "number_of_processes": 1,
                                     "working_directory": wd, "allocation": "none"},
                                    {"resource_url": "fork://localhost", "number_of_processes": 1,
                                     "working_directory": wd}], url)
            self.services.append(mjs._pcs)
            jobs = [mjs.create_job({"executable": "/bin/echo", "arguments": [str(i)]}) for i in range(4)]
            for j in jobs:
                j.run()
            for j in jobs:
                j.wait()
                self.assertEqual(j.get_state(), "Done", name)
            self.assertEqual(sandbox_outputs(wd), ["0\n", "1\n", "2\n", "3\n"])
            self.assertEqual(len(mjs.list_bigjobs()), 2)
            mjs.cancel()

    def test_logger_levels(self):
        code = "import logging, bigjob; print(logging.getLevelName(bigjob.logger.level))"
        for value, want in (("", "CRITICAL"), ("4", "DEBUG"), ("3", "INFO"), ("2", "WARNING"), ("1", "ERROR"),
                            ("debug", "DEBUG"), ("bogus", "CRITICAL")):
            env = {"BIGJOB_VERBOSE": value} if value else {}
            if not value:
                env["BIGJOB_VERBOSE"] = ""
            status, out, err = run_python(code, env)
            self.assertEqual(status, 0, err)
            self.assertEqual(out.strip(), want, "BIGJOB_VERBOSE=%r" % value)
        # importing does not configure the root logger (BigJob's basicConfig did)
        status, out, err = run_python("import logging, pilot; print(len(logging.getLogger().handlers))")
        self.assertEqual(out.strip(), "0", err)


if __name__ == "__main__":
    unittest.main()
