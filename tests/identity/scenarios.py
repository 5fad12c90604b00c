"""Identity scenarios: messages in, which of them end up on the same profile out.

Each message is a dict in the Tracking API's shape plus an `id` (its messageId). `same` lists
groups of message ids that must share a profile; every group must be on a different profile.
"""

from __future__ import annotations

from typing import Any

SCENARIOS: list[tuple[str, list[dict[str, Any]], list[list[str]]]] = [
    (
        "anonymous browsing then login joins the anonymous history",
        [
            {"id": "p1", "type": "page", "anonymousId": "anon-1"},
            {"id": "p2", "type": "page", "anonymousId": "anon-1"},
            {"id": "login", "type": "identify", "anonymousId": "anon-1", "userId": "ann"},
            {"id": "t1", "type": "track", "userId": "ann", "event": "Order Completed"},
        ],
        [["p1", "p2", "login", "t1"]],
    ),
    (
        "two devices, then login on both, become one person",
        [
            {"id": "laptop", "type": "page", "anonymousId": "laptop-anon"},
            {"id": "phone", "type": "screen", "anonymousId": "phone-anon"},
            {
                "id": "login-laptop",
                "type": "identify",
                "anonymousId": "laptop-anon",
                "userId": "bob",
            },
            {"id": "login-phone", "type": "identify", "anonymousId": "phone-anon", "userId": "bob"},
        ],
        [["laptop", "phone", "login-laptop", "login-phone"]],
    ),
    (
        "a shared device where two users log in keeps them apart (one user_id per profile)",
        [
            {"id": "browse", "type": "page", "anonymousId": "kiosk"},
            {"id": "carl", "type": "identify", "anonymousId": "kiosk", "userId": "carl"},
            {"id": "dana", "type": "identify", "anonymousId": "kiosk", "userId": "dana"},
            {"id": "dana-buys", "type": "track", "userId": "dana", "event": "Bought"},
        ],
        [["browse", "carl"], ["dana", "dana-buys"]],
    ),
    (
        "an email change keeps one profile",
        [
            {"id": "old", "type": "identify", "userId": "eve", "traits": {"email": "eve@old.io"}},
            {"id": "new", "type": "identify", "userId": "eve", "traits": {"email": "eve@new.io"}},
            {
                "id": "by-old-email",
                "type": "page",
                "anonymousId": "x1",
                "context": {"traits": {"email": "EVE@old.io"}},
            },
        ],
        [["old", "new", "by-old-email"]],
    ),
    (
        "a blocked anonymous id never merges strangers",
        [
            {"id": "f", "type": "identify", "userId": "fay", "anonymousId": "undefined"},
            {"id": "g", "type": "identify", "userId": "gus", "anonymousId": "undefined"},
        ],
        [["f"], ["g"]],
    ),
    (
        "an alias links the anonymous id to the user",
        [
            {"id": "before", "type": "track", "anonymousId": "anon-h", "event": "Viewed"},
            {"id": "alias", "type": "alias", "previousId": "anon-h", "userId": "hal"},
            {"id": "after", "type": "track", "userId": "hal", "event": "Paid"},
        ],
        [["before", "alias", "after"]],
    ),
    (
        "an alias chain: anonymous → alias → second device",
        [
            {"id": "a1", "type": "page", "anonymousId": "w1"},
            {"id": "alias1", "type": "alias", "previousId": "w1", "userId": "ivy"},
            {"id": "a2", "type": "page", "anonymousId": "w2"},
            {"id": "alias2", "type": "alias", "previousId": "w2", "userId": "ivy"},
        ],
        [["a1", "alias1", "a2", "alias2"]],
    ),
    (
        "a merge that would give a profile two user_ids drops the lowest-priority identifier",
        [
            {"id": "jon", "type": "identify", "userId": "jon", "traits": {"email": "family@x.io"}},
            {"id": "kim", "type": "identify", "userId": "kim", "traits": {"email": "family@x.io"}},
        ],
        [["jon"], ["kim"]],
    ),
    (
        "late-arriving events resolve like any other",
        [
            {"id": "now", "type": "identify", "userId": "lea", "anonymousId": "l-anon"},
            {
                "id": "late",
                "type": "page",
                "anonymousId": "l-anon",
                "timestamp": "2020-01-01T00:00:00Z",
            },
        ],
        [["now", "late"]],
    ),
    (
        "three anonymous profiles merge into one when a login names them",
        [
            {
                "id": "m1",
                "type": "page",
                "anonymousId": "m-a",
                "context": {"traits": {"email": "mo@x.io"}},
            },
            {
                "id": "m2",
                "type": "page",
                "anonymousId": "m-b",
                "context": {"device": {"id": "dev-m", "type": "ios"}},
            },
            {
                "id": "m3",
                "type": "identify",
                "userId": "mo",
                "traits": {"email": "mo@x.io"},
                "context": {"device": {"id": "dev-m", "type": "ios"}},
            },
        ],
        [["m1", "m2", "m3"]],
    ),
    (
        "two anonymous visitors with the same Google Analytics client id are one person",
        [
            {
                "id": "ga-a",
                "type": "page",
                "anonymousId": "ga-anon-1",
                "context": {"integrations": {"Google Analytics": {"clientId": "GA1.2.11.22"}}},
            },
            {
                "id": "ga-b",
                "type": "page",
                "anonymousId": "ga-anon-2",
                "context": {"integrations": {"Google Analytics": {"clientId": "GA1.2.11.22"}}},
            },
            {"id": "ga-other", "type": "page", "anonymousId": "ga-anon-3"},
        ],
        [["ga-a", "ga-b"], ["ga-other"]],
    ),
    (
        "a push token joins installs of one platform; the same token on the other platform does not",
        [
            {
                "id": "droid-1",
                "type": "screen",
                "anonymousId": "pt-1",
                "context": {"device": {"type": "android", "token": "tok-9"}},
            },
            {
                "id": "droid-2",
                "type": "screen",
                "anonymousId": "pt-2",
                "context": {"device": {"type": "android", "token": "tok-9"}},
            },
            {
                "id": "apple",
                "type": "screen",
                "anonymousId": "pt-3",
                "context": {"device": {"type": "ios", "token": "tok-9"}},
            },
        ],
        [["droid-1", "droid-2"], ["apple"]],
    ),
    (
        "a phone number matches however it is spelled",
        [
            {
                "id": "ph-1",
                "type": "identify",
                "userId": "pia",
                "traits": {"phone": "+1 (555) 010-0199"},
            },
            {
                "id": "ph-2",
                "type": "page",
                "anonymousId": "ph-anon",
                "context": {"traits": {"phone": "+1.555.010.0199"}},
            },
        ],
        [["ph-1", "ph-2"]],
    ),
    (
        "an advertising id links devices only when ad tracking is enabled",
        [
            {
                "id": "ad-off-1",
                "type": "screen",
                "anonymousId": "ad-1",
                "context": {"device": {"type": "ios", "advertisingId": "IDFA-7"}},
            },
            {
                "id": "ad-off-2",
                "type": "screen",
                "anonymousId": "ad-2",
                "context": {
                    "device": {"type": "ios", "advertisingId": "IDFA-7", "adTrackingEnabled": False}
                },
            },
            {
                "id": "ad-on-1",
                "type": "screen",
                "anonymousId": "ad-3",
                "context": {
                    "device": {"type": "ios", "advertisingId": "IDFA-8", "adTrackingEnabled": True}
                },
            },
            {
                "id": "ad-on-2",
                "type": "screen",
                "anonymousId": "ad-4",
                "context": {
                    "device": {"type": "ios", "advertisingId": "IDFA-8", "adTrackingEnabled": True}
                },
            },
        ],
        [["ad-off-1"], ["ad-off-2"], ["ad-on-1", "ad-on-2"]],
    ),
    (
        "custom types rank alphabetically after the built-in ones: the last one gives way",
        [
            {
                "id": "quinn",
                "type": "identify",
                "userId": "quinn",
                "context": {"externalIds": [{"id": "A-1", "type": "alpha_id"}]},
            },
            {
                "id": "rita",
                "type": "identify",
                "userId": "rita",
                "context": {"externalIds": [{"id": "Z-1", "type": "zeta_id"}]},
            },
            # Both profiles hold a user_id, so one id must go: zeta_id ranks last, whatever
            # the order the message lists them in.
            {
                "id": "both",
                "type": "track",
                "anonymousId": "qr-anon",
                "event": "Opened",
                "context": {
                    "externalIds": [
                        {"id": "Z-1", "type": "zeta_id"},
                        {"id": "A-1", "type": "alpha_id"},
                    ]
                },
            },
        ],
        [["quinn", "both"], ["rita"]],
    ),
]
