"""Google Ads: Customer Match lists from Engage audiences, and offline click and call
conversions, through the Google Ads API's REST interface.

- Customer Match (see `customer_match`): an offline user data job per list and direction,
  people as hashed email, phone and address (see `identifiers`).
- Offline conversions (see `conversions`): `uploadClickConversions` with a gclid, gbraid or
  wbraid, or with hashed user identifiers (enhanced conversions for leads), and
  `uploadCallConversions`; partial failures fail only their own payloads.
- Every request (see `api`): an OAuth access token from the instance's client and refresh token
  (the token URL is a setting), the `developer-token` header, `login-customer-id` when set, the
  API version as a setting; 401 renews the token once; 429, 5xx and Google's transient errors
  are retried.

Deletion (a privacy regulation): the person is removed from every Customer Match list a
subscription names by a literal id; Google offers no way to delete uploaded conversions, so
without such a list the regulation reports NOT_SUPPORTED.
"""

from __future__ import annotations

from seamline.destinations.catalog.google_ads import api, conversions, customer_match
from seamline.destinations.catalog.google_ads.fields import (
    CALL_CONVERSION,
    CLICK_CONVERSION,
    CUSTOMER_MATCH,
)
from seamline.destinations.definition import Action, Context, Destination, Preset, Setting


def test_authentication(ctx: Context) -> None:
    """Listing the accessible customers needs a valid token and developer token."""
    api.call(ctx, "customers:listAccessibleCustomers", method="GET")


DESTINATION = Destination(
    slug="google-ads",
    name="Google Ads",
    description="Sync audiences to Customer Match lists and upload offline conversions.",
    settings={
        "customer_id": Setting(
            "Customer ID", "The Google Ads account's id, like 123-456-7890.", required=True
        ),
        "login_customer_id": Setting(
            "Login customer ID",
            "The manager account's id when the account is reached through one.",
        ),
        "developer_token": Setting(
            "Developer token", "The API developer token (API Center).", required=True, secret=True
        ),
        "oauth_client_id": Setting("OAuth client ID", "A Google OAuth client.", required=True),
        "oauth_client_secret": Setting(
            "OAuth client secret", "That client's secret.", required=True, secret=True
        ),
        "oauth_refresh_token": Setting(
            "OAuth refresh token",
            "A refresh token for the adwords scope, from a user with access to the account.",
            required=True,
            secret=True,
        ),
        "validate_only": Setting(
            "Validate only",
            "Conversions are checked by Google and not recorded.",
            "boolean",
            default=False,
        ),
        "api_version": Setting("API version", "Like v22.", default=api.API_VERSION),
        "endpoint": Setting(
            "API host", "The Google Ads API host.", default=api.API_HOST, target=True
        ),
        "token_url": Setting(
            "OAuth token URL", "Google's token endpoint.", default=api.TOKEN_URL, target=True
        ),
    },
    actions={
        "customer_match": Action(
            title="Customer Match",
            description="Add people entering an audience to a Customer Match list and remove "
            "those exiting it.",
            fields=CUSTOMER_MATCH,
            perform=customer_match.sync_audience,
            perform_batch=customer_match.sync_audiences,
            max_batch=customer_match.MAX_PEOPLE,
            default_trigger=customer_match.TRIGGER,
            ordered=True,  # an exit must not overtake the entry before it
        ),
        "upload_click_conversion": Action(
            title="Upload Click Conversion",
            description="Upload an offline conversion of an ad click (gclid) or of a lead "
            "(hashed email or phone).",
            fields=CLICK_CONVERSION,
            perform=conversions.upload_click_conversion,
            perform_batch=conversions.upload_click_conversions,
            max_batch=conversions.MAX_CONVERSIONS,
            default_trigger='type = "track" and event = "Order Completed"',
        ),
        "upload_call_conversion": Action(
            title="Upload Call Conversion",
            description="Upload a conversion of a call from an ad.",
            fields=CALL_CONVERSION,
            perform=conversions.upload_call_conversion,
            perform_batch=conversions.upload_call_conversions,
            max_batch=conversions.MAX_CONVERSIONS,
            default_trigger='type = "track" and event = "Call Converted"',
        ),
    },
    test_authentication=test_authentication,
    delete=customer_match.delete_person,
    presets=(
        Preset("Audience Entered and Exited", "customer_match", customer_match.TRIGGER),
        Preset(
            "Order Completed",
            "upload_click_conversion",
            'type = "track" and event = "Order Completed"',
        ),
    ),
)
