"""The README's walkthrough under ``sam local start-api``: the same steps and answers as under
``make run`` (``tests.support.walkthrough``)."""

from __future__ import annotations

import pytest

from tests.support import walkthrough


@pytest.mark.parametrize("step", walkthrough.STEPS, ids=lambda step: step.__name__)
def test_the_readme_walkthrough(walker: walkthrough.Walker, step: walkthrough.Step) -> None:
    step(walker)
