from tests.workflows.conftest import NOW, drive_to


def test_happy_path_reaches_closed(world, db):
    cycle = drive_to(world, "closed")
    assert cycle.state == "closed"
