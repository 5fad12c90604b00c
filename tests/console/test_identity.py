"""The Identity page in Chromium against a real server: change a rule and add a custom type in
the form, save the draft, preview it (what would merge), apply it and see the version active and
the profiles re-resolved; accept a match proposal and see the merge on the profile."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect
from sqlalchemy import create_engine

from seamline.data_dir import DataDir
from seamline.store.identity_matches_sql import NewProposal, SqlIdentityMatches
from tests.console.browser import ConsoleRun, console_run
from tests.console.test_profiles_engage import PROFILES, SPACE, Api, found, post_batch, wait_for

pytestmark = pytest.mark.slow

# Re-resolving history runs while other test runs share two cores.
SLOW = 90_000


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleRun]:
    """One server and one signed-in owner for both tests (a server takes most of their time)."""
    with console_run(tmp_path_factory.mktemp("identity")) as started:
        started.sign_in()
        yield started


def profile_of(api: Api, identifier: str) -> str:
    found_ = api.get(f"{SPACE}/profiles?identifier={identifier}")["data"]
    return str(found_[0]["profile_id"]) if found_ else ""


def test_edit_a_rule_preview_apply_and_the_new_version_is_active(run: ConsoleRun) -> None:
    page = run.page
    api = Api(run, page)
    # Two visitors who typed the same customer number: apart until customer_number is an
    # identifier type.
    visits = [
        {
            "type": "track",
            "event": "Signed In",
            "anonymousId": f"visit-{n}",
            "messageId": f"visit-{n}",
            "properties": {"customer_number": "C-7"},
        }
        for n in (1, 2)
    ]
    post_batch(run.url, run.server.write_key, visits)
    wait_for(lambda: all(found(api, f"anonymous_id:visit-{n}") for n in (1, 2)), "both visits")
    assert profile_of(api, "anonymous_id:visit-1") != profile_of(api, "anonymous_id:visit-2")

    run.open("/identity")
    types = page.get_by_role("table", name="Identifier types", exact=True)
    expect(types.get_by_role("row", name=re.compile(r"^user_id 1 1 any time"))).to_be_visible()
    before = api.get("/api/v1/identity/rules")["active"]
    before_version = before["version"] if before else 0
    assert run.axe() == []

    # The form: phone keeps at most 2 numbers; customer_number is read from the properties.
    page.get_by_label("Limit of phone", exact=True).fill("2")
    page.get_by_role("button", name="Add a custom type").click()
    page.get_by_label("Type name", exact=True).fill("customer_number")
    page.get_by_label("Read from field", exact=True).fill("properties.customer_number")
    page.get_by_role("button", name="Save draft").click()
    draft = page.get_by_role("heading", name=re.compile(r"^Draft version \d+$"))
    expect(draft).to_be_visible()
    version = int((draft.text_content() or "").rsplit(" ", 1)[1])
    assert version > before_version
    saved = api.get(f"/api/v1/identity/rules/{version}")
    assert saved["state"] == "draft"
    assert saved["document"]["types"]["phone"]["limit"] == 2
    assert saved["document"]["custom"] == [
        {"name": "customer_number", "path": "properties.customer_number"}
    ]
    # Only the changed type is written: the others keep following the defaults.
    assert set(saved["document"]["types"]) == {"phone"}

    page.get_by_role("button", name="Preview").click()
    summary = page.get_by_test_id("preview-summary")
    expect(summary).to_contain_text("1 merge, 0 splits", timeout=SLOW)
    examples = page.get_by_role("table", name="Preview examples")
    expect(examples.get_by_role("row", name=re.compile("would merge"))).to_contain_text(
        "customer_number:"
    )
    assert run.axe() == []

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Apply", exact=True).click()
    expect(page.get_by_text(f"Version {version} is active")).to_be_visible(timeout=SLOW)
    expect(page.get_by_test_id("rules-version")).to_contain_text(f"Version {version}")
    expect(types.get_by_role("row", name=re.compile(r"^phone .*2 any time"))).to_be_visible()
    expect(types.get_by_role("row", name=re.compile(r"^customer_number custom"))).to_be_visible()
    # The editor now starts from the rules in force.
    expect(page.get_by_label("Limit of phone", exact=True)).to_have_value("2")
    expect(page.get_by_label("Type name", exact=True)).to_have_value("customer_number")
    versions = page.get_by_role("table", name="Rules versions")
    expect(versions.get_by_role("row", name=re.compile(rf"^{version} active"))).to_be_visible()
    run.screenshot("identity")
    # History was re-resolved under the new rules: the two visits are one person now.
    assert profile_of(api, "anonymous_id:visit-1") == profile_of(api, "anonymous_id:visit-2")


def test_accept_a_match_proposal_and_see_the_merge_on_the_profile(run: ConsoleRun) -> None:
    page = run.page
    api = Api(run, page)
    # Anonymous, so no user_id limit stands between them (one user_id per profile).
    people = [
        {"type": "identify", "anonymousId": "ada-shop", "traits": {"email": "ada@example.com"}},
        {"type": "identify", "anonymousId": "ada-store", "traits": {"email": "ada@exmaple.com"}},
    ]
    post_batch(
        run.url,
        run.server.write_key,
        [{**m, "messageId": f"ada-{i}"} for i, m in enumerate(people)],
    )
    wait_for(lambda: all(found(api, f"anonymous_id:{u}") for u in ("ada-shop", "ada-store")), "ada")
    left, right = (
        profile_of(api, "anonymous_id:ada-shop"),
        profile_of(api, "anonymous_id:ada-store"),
    )
    # The proposal as the matching job would store it (the job itself: tests/identity).
    comparisons = [
        {"field": "email", "left": "ada@example.com", "right": "ada@exmaple.com",
         "level": "typo", "bayes_factor": 40.0},
        {"field": "first_name", "left": "Ada", "right": "Ada", "level": "exact",
         "bayes_factor": 12.0},
    ]  # fmt: skip
    engine = create_engine(DataDir(run.server.data_dir).state_url())
    try:
        proposal = SqlIdentityMatches(engine).add(
            "default", NewProposal(left, right, 0.93, comparisons), datetime.now(UTC)
        )
    finally:
        engine.dispose()

    run.open("/identity?tab=review")
    card = page.get_by_role("article", name=f"Proposal {proposal}")
    expect(card).to_contain_text("93.0%")
    table = card.get_by_role("table", name=f"Comparisons of Proposal {proposal}")
    expect(
        table.get_by_role("row", name="email ada@example.com ada@exmaple.com typo")
    ).to_be_visible()
    assert run.axe() == []
    card.get_by_role("button", name=f"Accept Proposal {proposal}").click()
    expect(page.get_by_role("status")).to_contain_text("Merged", timeout=SLOW)
    expect(page.get_by_text("Nothing waits for review.")).to_be_visible()
    assert profile_of(api, "anonymous_id:ada-shop") == profile_of(api, "anonymous_id:ada-store")
    decided = api.get(f"/api/v1/identity/proposals/{proposal}")
    assert decided["status"] == "merged" and decided["decided_by"]

    # The profile's merge history says a person accepted a match, with its probability.
    run.open("/profiles/anonymous_id%3Aada-shop")
    merges = page.get_by_role("table", name="Merges", exact=True)
    expect(merges.get_by_text("accepted match 93.0%")).to_be_visible()
    merge_id = api.get(f"{PROFILES}/anonymous_id:ada-shop/merges")["data"][0]["merge_id"]
    assert decided["merge_id"] == merge_id
