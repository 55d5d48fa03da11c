"""The simulator's control API under /_sim/: accounts, traffic, faults, replies and counters,
and what authors do to their posts afterwards (edit, delete).

Tests, the demo and the fault harness drive the simulator through it (`control` is a
client of it); the caller holds `state.lock`.
"""

from typing import Any

from listening.simulator.oauth import DEFAULT_CLIENT_ID
from listening.simulator.state import SimState


def control_answer(
    state: SimState,
    method: str,
    path: str,
    params: dict[str, str],
    body: dict[str, Any],
) -> dict[str, Any] | None:
    """The answer to one control request, or None when there is no such endpoint.
    Bad values raise ValueError, TypeError or KeyError (a 400)."""
    if path == "/_sim/health" and method == "GET":
        return {"ok": True}
    if path == "/_sim/accounts" and method == "POST":
        account = state.register_account(
            str(body["network"]),
            str(body["account_id"]),
            str(body["handle"]),
            str(body.get("name") or ""),
            str(body.get("token") or ""),
            str(body.get("page_id") or ""),
        )
        return account.as_json()
    if path == "/_sim/accounts" and method == "GET":
        return {"accounts": [a.as_json() for a in state.accounts.values()]}
    if path == "/_sim/publish" and method == "POST":
        network = str(body["network"])
        ids = state.publish(
            network,
            str(body["account_id"]) if body.get("account_id") else None,
            int(body.get("count", 1)),
            body.get("kind"),
            int(body["seed"]) if body.get("seed") is not None else None,
            body.get("topic"),
            body.get("lang"),
        )
        kinds = [state.kind_of(network, i) for i in ids]
        return {"network": network, "ids": ids, "kinds": kinds}
    if path == "/_sim/edit" and method == "POST":
        # An author edits their post: X answers with the new version's id, Graph keeps it.
        item_id, text = str(body["id"]), str(body["text"])
        if str(body["network"]) == "x":
            return {"id": str(state.x.edit_tweet(int(item_id), text).id)}
        return {"id": state.fb.edit_comment(item_id, text).id}
    if path == "/_sim/delete" and method == "POST":
        item_id = str(body["id"])
        if str(body["network"]) == "x":
            gone = [str(i) for i in state.x.delete_tweet(int(item_id))]
            state.pending = [p for p in state.pending if p.ref not in gone]
            return {"deleted": gone}
        if str(body["network"]) == "instagram":
            return {"deleted": state.ig.delete_item(item_id)}
        return {"deleted": state.fb.delete_item(item_id)}
    if path == "/_sim/rate" and method == "POST":
        rate = float(body["per_minute"])
        if rate < 0:
            raise ValueError("per_minute must be 0 or more")
        state.rate = rate
        return {"per_minute": rate}
    if path == "/_sim/faults" and method == "POST":
        options = {
            k: v for k, v in body.items() if k not in ("network", "fault", "count", "path_contains")
        }
        fault = state.add_fault(
            str(body["network"]),
            str(body["fault"]),
            int(body.get("count", 1)),
            str(body.get("path_contains") or ""),
            **options,
        )
        return fault.as_json()
    if path == "/_sim/faults" and method == "GET":
        return {"faults": [f.as_json() for f in state.faults], "fired": state.fired}
    if path == "/_sim/faults" and method == "DELETE":
        state.faults.clear()
        return {"faults": []}
    if path == "/_sim/replies" and method == "GET":
        network = params.get("network")
        replies = [r for r in state.replies if network in (None, "", r["network"])]
        return {"replies": replies, "count": len(replies)}
    if path == "/_sim/oauth" and method == "POST":
        return state.set_token_mode(body.get("check_tokens"), body.get("token_lifetime"))
    if path == "/_sim/oauth/grants" and method == "POST":
        return state.oauth.authorise(
            str(body["account_id"]) if body.get("account_id") else None,
            str(body.get("client_id") or DEFAULT_CLIENT_ID),
        )
    if path == "/_sim/reads" and method == "GET":
        return {"reads": state.reads_about(params.get("about", ""), params.get("path", ""))}
    if path == "/_sim/webhooks" and method == "POST":
        return state.webhooks.configure(
            str(body.get("url") or ""), str(body.get("app_secret") or "")
        )
    if path == "/_sim/webhooks" and method == "GET":
        return state.webhooks.as_json()
    if path == "/_sim/stats" and method == "GET":
        return state.stats()
    if path == "/_sim/reset" and method == "POST":
        state.reset(int(body["seed"]) if body.get("seed") is not None else None)
        state.rate = float(body.get("per_minute", 0) or 0)
        return {"reset": True, "seed": state.seed}
    return None
