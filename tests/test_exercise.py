"""mmapsim exercise: seeded exercises that run as quizzes, and cover the lecture's claims."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from mmapsim import Machine
from mmapsim.cli import main
from mmapsim.scenario.lang.parser import parse_text
from mmapsim.scenario.learn.exercises import CLAIMS, TOPICS, claims_of, generate
from mmapsim.scenario.learn.questions import answer_of, is_right
from mmapsim.scenario.run.runner import Runner

REQUIRED = ("shared", "private-cow", "anonymous", "fork", "msync", "munmap", "layout", "eof")
_ANSWER = re.compile(r"# answer: (.*?)(?:; |$)")
_ASK = re.compile(r"^(\w+: )?ask ")


def cli(*args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), input=stdin)
    assert isinstance(result.exception, SystemExit | None), result.exception
    return result.exit_code, result.stdout + result.stderr


def test_the_required_topics_exist() -> None:
    """At least the topics the exercises promise."""
    assert set(REQUIRED) <= set(TOPICS)


#: Each test of tests/test_lecture.py (one claim of the lecture each) and its claim here.
LECTURE = {
    "test_a_mapping_correlates_byte_for_byte_with_a_portion_of_the_file": "byte-for-byte",
    "test_fetching_bytes_from_the_buffer_reads_the_file": "load-reads-file",
    "test_storing_in_the_buffer_writes_the_file_without_write": "store-writes-file",
    "test_there_are_file_mappings_and_anonymous_mappings": "two-kinds",
    "test_processes_mapping_the_same_file_region_share_physical_pages": "shared-same-frames",
    "test_writes_to_a_shared_mapping_are_carried_through_to_the_file": "shared-carried-to-file",
    "test_shared_file_mapping_is_IPC_between_related_processes": "ipc-related",
    "test_shared_file_mapping_is_IPC_between_unrelated_processes": "ipc-unrelated",
    "test_shared_file_mapping_is_memory_mapped_io": "mmio",
    "test_private_mappings_initially_share_the_same_physical_pages": "private-initially-shared",
    "test_a_write_to_a_private_mapping_is_copy_on_write": "private-cow",
    "test_changes_to_a_private_mapping_are_invisible_to_other_processes": "private-invisible",
    "test_changes_to_a_private_mapping_never_reach_the_file": "private-not-in-file",
    "test_private_file_mappings_hold_a_program_text_and_data": "private-program",
    "test_anonymous_mappings_are_zero_filled": "anon-zero",
    "test_private_anonymous_memory_is_private_across_fork": "anon-private-fork",
    "test_shared_anonymous_memory_is_shared_across_fork": "anon-shared-fork",
    "test_mmap_returns_the_start_of_the_mapping": "mmap-returns-start",
    "test_NULL_addr_lets_the_kernel_choose_a_non_conflicting_address": "null-addr",
    "test_len_is_rounded_up_to_a_multiple_of_the_page_size": "len-rounded",
    "test_len_the_file_size_and_offset_zero_map_the_whole_file": "whole-file",
    "test_prot_is_a_bit_mask_of_permissions": "prot-mask",
    "test_a_store_without_PROT_WRITE_is_refused": "no-write-segv",
    "test_flags_choose_a_shared_or_a_private_mapping": "flags-shared-private",
    "test_fd_identifies_the_file_to_map": "fd-names-file",
    "test_offset_is_the_starting_point_in_the_file": "offset",
    "test_fd_and_offset_are_ignored_for_anonymous_mappings": "anon-fd-ignored",
    "test_msync_writes_the_changes_back_to_the_file": "msync-writes-back",
    "test_MS_SYNC_waits_for_the_update_to_complete": "ms-sync-waits",
    "test_MS_ASYNC_requests_the_update_and_returns_immediately": "ms-async",
    "test_MS_ASYNC_makes_the_changes_visible_to_readers_of_the_file": "ms-async-visible",
    "test_MS_INVALIDATE_makes_other_mappings_of_the_file_current": "ms-invalidate",
    "test_munmap_with_mmap_address_and_length_removes_the_whole_mapping": "munmap-whole",
    "test_munmap_of_part_of_a_mapping_removes_only_that_part": "munmap-part",
    "test_mappings_are_removed_when_the_process_terminates": "unmapped-at-exit",
    "test_mappings_are_removed_when_the_process_terminates_sim": "unmapped-at-exit",
    "test_mappings_are_removed_when_the_process_execs": "unmapped-at-exec",
    "test_closing_the_fd_does_not_unmap_the_region": "close-keeps-mapping",
    "test_a_process_has_text_data_heap_and_stack": "layout-order",
    "test_mappings_lie_between_the_heap_and_the_stack": "mappings-between",
    "test_later_mappings_lie_below_earlier_ones": "grow-down",
}


def test_every_claim_of_the_lecture_is_asked_by_some_topic() -> None:
    """Each claim tests/test_lecture.py checks is asked by a topic; every claim is asked."""
    lecture = (Path(__file__).parent / "test_lecture.py").read_text()
    assert set(re.findall(r"^def (test_\w+)", lecture, re.M)) == set(LECTURE)
    covered = {claim for topic in TOPICS for claim in claims_of(topic)}
    assert set(LECTURE.values()) <= covered
    assert covered == set(CLAIMS)


@pytest.mark.parametrize("topic", REQUIRED)
def test_a_seed_repeats_and_seeds_differ(topic: str) -> None:
    """The same seed gives the same exercise; five seeds give five different ones."""
    code, first = cli("exercise", "--topic", topic, "--seed", "7")
    assert code == 0
    assert cli("exercise", "--topic", topic, "--seed", "7")[1] == first
    assert len({generate(topic, seed) for seed in range(5)}) == 5


@pytest.mark.parametrize("topic", REQUIRED)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_answer_as_shown_is_accepted(topic: str, seed: int) -> None:
    """Each exercise runs on the simulator; typing an answer as the key shows it is right."""
    scenario = parse_text(generate(topic, seed), "ex.mmap")
    with Machine() as machine:
        results = [r for r in Runner(machine).run(scenario) if r.asked is not None]
    assert len(results) >= 5
    for result in results:
        answer = answer_of(result)
        assert answer.kind != "skipped", (result.asked, answer)
        assert is_right(answer, answer.text, result.choices), answer


@pytest.mark.parametrize("topic", REQUIRED)
def test_solved_exercises_score_full_marks_and_wrong_answers_none(
    tmp_path: Path, topic: str
) -> None:
    """As a student would: the solved key's answers piped in score all; nonsense scores 0."""
    code, solved = cli("exercise", "--topic", topic, "--seed", "3", "--solve")
    assert code == 0
    answers = [_ANSWER.search(line) for line in solved.splitlines() if _ASK.search(line)]
    assert all(answers)
    keys = [match[1] for match in answers if match]
    path = tmp_path / "ex.mmap"
    path.write_text(cli("exercise", "--topic", topic, "--seed", "3")[1])
    code, out = cli("quiz", str(path), stdin="\n".join(keys) + "\n")
    assert code == 0, out
    assert f"score: {len(keys)} of {len(keys)} right" in out
    code, out = cli("quiz", str(path), stdin="zzz\n" * len(keys))
    assert code == 1
    assert f"score: 0 of {len(keys)} right" in out


def test_solve_writes_each_answer_into_its_question() -> None:
    """--solve: the answer first in each question's comment, the why after it."""
    _, solved = cli("exercise", "--topic", "eof", "--seed", "1", "--solve")
    asks = [line for line in solved.splitlines() if _ASK.search(line)]
    assert asks[-1].endswith(
        "# answer: killed by SIGBUS; that page lies wholly beyond the end of the file"
    )


#: Every topic but msync, whose crash step needs the simulator (a clear refusal on Linux).
@pytest.mark.parametrize("topic", [t for t in REQUIRED if t != "msync"])
def test_the_key_holds_on_linux(tmp_path: Path, topic: str) -> None:
    """quiz --answers --kernel host: Linux gives the simulator's answers."""
    if not sys.platform.startswith("linux"):
        pytest.skip("needs Linux")
    path = tmp_path / "ex.mmap"
    path.write_text(generate(topic, 5))
    code, out = cli("quiz", "--answers", "--kernel", "host", str(path))
    assert code == 0, out
    assert "questions: the simulator agrees" in out


def test_an_unknown_topic_is_refused() -> None:
    """A topic that does not exist: click's usage error, exit 2, naming the topics."""
    code, out = cli("exercise", "--topic", "swap", "--seed", "1")
    assert code == 2
    assert "private-cow" in out


def test_the_readme_shows_a_real_quiz(tmp_path: Path) -> None:
    """The quiz on the README's first screen is what mmapsim prints, line for line."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    block = readme.split("$ mmapsim exercise --topic fork --seed 1", 1)[1].split("```", 1)[0]
    shown = [line for line in block.splitlines()[1:] if line.strip() not in ("", "...")]
    path = tmp_path / "fork.mmap"
    path.write_text(generate("fork", 1))
    _, out = cli("quiz", str(path), stdin="yes\n1\nyes\nno\n2\n2\n")
    lines = iter(out.splitlines())
    for line in shown:
        assert any(got == line for got in lines), line


def test_an_msync_exercise_on_linux_says_the_crash_needs_the_simulator(tmp_path: Path) -> None:
    """The msync topic crashes the machine: on Linux that is refused, at its line, exit 2."""
    if not sys.platform.startswith("linux"):
        pytest.skip("needs Linux")
    path = tmp_path / "ex.mmap"
    path.write_text(generate("msync", 5))
    code, out = cli("quiz", "--answers", "--kernel", "host", str(path))
    assert code == 2
    assert re.search(r"ex\.mmap:\d+:1: crash needs the simulator", out), out
