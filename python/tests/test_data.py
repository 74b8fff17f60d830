"""Pilot-Data on local directories, with compute units staging in and out
(the agent does both), reconnected by URL, every file checked."""
import os
import unittest

import pilot
from tests.support import BackendCase


class TestPilotData(BackendCase):
    def test_data_units_and_compute_units(self):
        for name, url in self.backends:
            pcs, pc, wd = self.pilot(url, 1)
            store = self.scratch()
            src = os.path.join(self.scratch(), "test.txt")
            with open(src, "w") as f:
                f.write("Hello World!\n")
            pds = pilot.PilotDataService(url)
            self.assertTrue(pds.url.startswith("redis://") and "/bigdata:pds-" in pds.url)
            pd = pds.create_pilot(pilot_data_description={"service_url": "ssh://localhost" + store})
            self.assertEqual(repr(pd), "ssh://localhost" + store)
            cds = pilot.ComputeDataService()
            cds.add_pilot_compute_service(pcs)
            cds.add_pilot_data_service(pds)

            du_in = cds.submit_data_unit({"file_urls": [src]})
            self.assertEqual(du_in.wait(), "Running")
            self.assertTrue(du_in.get_url().startswith(pds.url + ":du-"), du_in.get_url())
            kept = os.path.join(store, du_in.id, "test.txt")
            self.assertTrue(os.path.isfile(kept) and not os.path.islink(kept), "copied, not linked")
            du_out = cds.submit_data_unit({"file_urls": []})

            cu = cds.submit_compute_unit({
                "executable": "/bin/cat", "arguments": ["test.txt"],
                "input_data": [du_in.get_url()],
                "output_data": [{du_out.get_url(): ["std*"]}],
                "output": "stdout.txt", "error": "stderr.txt"})
            cds.wait()
            self.assertEqual(cu.get_state(), "Done", name)
            sandbox = cu.get_local_working_directory()
            self.assertFalse(os.path.exists(os.path.join(sandbox, "stdout.txt")), "moved into the data unit")
            self.assertEqual(sorted(du_out.list()), ["stderr.txt", "stdout.txt"])
            target = self.scratch()
            du_out.export(target)
            with open(os.path.join(target, "stdout.txt")) as f:
                self.assertEqual(f.read(), "Hello World!\n")
            self.assertEqual(dict(cds.list_data_units())[du_in.id], du_in)
            again = pilot.DataUnit(du_url=du_in.get_url())
            self.assertEqual(again.list_pilot_data(), [pd.url])
            self.assertEqual(again, du_in)
            self.assertEqual(sorted(again.list()), ["test.txt"])

    def test_central_placement_by_data_affinity(self):
        """ComputeDataServiceCentral places a unit on the pilot labelled as
        its input data's PilotData, and one with its own labels on the pilot
        labelled so; a unit whose input failed fails with the reason."""
        url = self.backends[0][1]
        pcs, pc_a, _ = self.pilot(url, 1, affinity_datacenter_label="dc1", affinity_machine_label="a")
        pc_b = pcs.create_pilot({"service_url": "fork://localhost", "number_of_processes": 1,
                                 "working_directory": self.scratch(),
                                 "affinity_datacenter_label": "dc1", "affinity_machine_label": "b"})
        self.assertEqual(pc_b.wait_state(pilot.State.Running, timeout=60), pilot.State.Running)
        pds = pilot.PilotDataService(url)
        pd = pds.create_pilot({"service_url": self.scratch(),
                               "affinity_datacenter_label": "dc1", "affinity_machine_label": "b"})
        src = os.path.join(self.scratch(), "in.txt")
        with open(src, "w") as f:
            f.write("near the data\n")
        du = pd.submit_data_unit({"file_urls": [src]})
        cds = pilot.ComputeDataServiceCentral()
        cds.add_pilot_compute_service(pcs)
        by_data = cds.submit_compute_unit({"executable": "/bin/cat", "arguments": ["in.txt"],
                                           "input_data": [du.get_url()]})
        by_label = cds.submit_compute_unit({"executable": "/bin/true",
                                            "affinity_datacenter_label": "dc1", "affinity_machine_label": "a"})
        cds.wait()
        self.assertEqual(by_data.get_state(), "Done", by_data.get_details().get("reason"))
        self.assertIn(by_data.get_details()["pilot"] + ":", pc_b.get_url())
        self.assertIn(by_label.get_details()["pilot"] + ":", pc_a.get_url())
        with open(os.path.join(by_data.get_local_working_directory(), "stdout")) as f:
            self.assertEqual(f.read(), "near the data\n")
        # a PilotData in pilot a's sandbox takes its labels: its units go there
        in_a = pds.create_pilot({"pilot": pc_a})
        sandbox = pc_a.get_details()["sandbox"]
        self.assertEqual(in_a.service_url, "file://" + os.path.join(sandbox, in_a.id))
        du_a = in_a.submit_data_unit({"file_urls": [src]})
        near_a = cds.submit_compute_unit({"executable": "/bin/cat", "arguments": ["in.txt"],
                                          "input_data": [du_a.get_url()]})
        cds.wait()
        self.assertEqual(near_a.get_state(), "Done", near_a.get_details().get("reason"))
        self.assertIn(near_a.get_details()["pilot"] + ":", pc_a.get_url())
        pcs.cancel()

    def test_refusals(self):
        pds = pilot.PilotDataService("redis://localhost")
        with self.assertRaises(pilot.PilotError) as cm:
            pds.create_pilot({"service_url": "ssh://127.0.0.1:1/data"})  # no sshd listens there
        self.assertIn('key "service_url": Pilot-Data ssh://127.0.0.1:1/data: create its directory: ', cm.exception.value)
        self.assertIn("127.0.0.1:1", cm.exception.value)
        with self.assertRaises(pilot.PilotError) as cm:
            pds.create_pilot({"service_url": "s3://bucket"})
        self.assertIn("the s3:// backend (Amazon S3) is not supported", cm.exception.value)
        pd = pds.create_pilot({"service_url": self.scratch()})
        with self.assertRaises(pilot.PilotError) as cm:
            pd.submit_data_unit({"file_urls": ["/nonexistent/file"]})
        self.assertIn("does not exist", cm.exception.value)
        with self.assertRaises(pilot.PilotError):
            pilot.ComputeDataService().submit_data_unit({"file_urls": []})


if __name__ == "__main__":
    unittest.main()
