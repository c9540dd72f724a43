"""Fleet audits (CIS Docker Benchmark style) on pytest and testinfra.

Your own checks are pytest files in ``--checks DIR``::

    from pyhost.audit import check

    @check("ORG.1", "No container runs from an image tagged latest", severity="low")
    def test_no_latest_tag(container, evidence):
        image = container.config["Config"]["Image"]
        evidence.add("image", image)
        evidence.require(not image.endswith(":latest"), f"{image} is tagged latest")

Fixtures: ``facts`` (the host's HostFacts), ``container`` (one container's facts: the test
then runs once per container), ``host`` (testinfra's Host), ``evidence``.
"""

from pyhost.audit.model import CheckMeta, Evidence, check

__all__ = ["CheckMeta", "Evidence", "check"]
