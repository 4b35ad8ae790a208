"""Assertions shared by the validator tests."""

from __future__ import annotations

from mlspec._proto import model_pb2
from mlspec.spec.errors import Problem
from mlspec.spec.validate import find_problems


def problems_at(model: model_pb2.Model, where: str) -> list[Problem]:
    return [p for p in find_problems(model) if p.where.startswith(where)]


def only_problem(model: model_pb2.Model) -> Problem:
    """The single problem of a spec that breaks exactly one rule, failing loudly otherwise."""
    problems = find_problems(model)
    assert len(problems) == 1, "\n".join(str(p) for p in problems)
    return problems[0]


def assert_problem(model: model_pb2.Model, where: str, *fragments: str) -> Problem:
    """Exactly one problem, located at `where`, whose message holds every fragment and has a fix."""
    problem = only_problem(model)
    assert problem.where == where, str(problem)
    for fragment in fragments:
        assert fragment in problem.message, f"{fragment!r} not in {problem}"
    assert problem.fix, f"no fix offered for {problem}"
    return problem
