"""Web hooks (``client.webhooks``): register URLs the service notifies of changes.

To receive the notifications in your own aiohttp backend, see :mod:`speechrest.webhooks`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from yarl import URL

from .. import _checks as check
from .._polling import PollPolicy
from ..errors import InvalidInputError
from ..types import (
    Status,
    WebHook,
    WebHookEventKind,
    WebHookEvents,
    WebHookProperties,
    WebHookPropertiesUpdate,
    WebHookUpdate,
)
from ._base import AsyncPager
from ._entity import EntityRef, EntityResource

__all__ = ["EventsInput", "WebHooks"]

EventsInput = WebHookEvents | Mapping[str, bool] | Iterable[WebHookEventKind | str] | str
"""Events as a :class:`WebHookEvents`, a ``{kind: True}`` mapping, or kinds."""


def _events(value: object) -> WebHookEvents:
    try:
        if isinstance(value, WebHookEvents):
            events = value
        elif isinstance(value, str):
            events = WebHookEvents.of([value])
        elif isinstance(value, Mapping):
            events = WebHookEvents.of(kind for kind, wanted in value.items() if wanted)
        elif isinstance(value, Iterable):
            events = WebHookEvents.of(value)
        else:
            raise ValueError(f"events must be event kinds; got {type(value).__name__}")
    except ValueError as exc:
        raise InvalidInputError(str(exc)) from None
    if not [k for k in events.kinds if k != WebHookEventKind.CHALLENGE]:
        raise InvalidInputError(
            "events turns no event on: give kinds such as ['transcriptionCompletion']"
        )
    return events


class WebHooks(EntityResource):
    """``client.webhooks``: register, inspect, update, ping and test web hooks.

    A new hook (and one whose ``web_url`` changed) is ``NotStarted`` until the service's
    challenge to ``web_url`` succeeds; :meth:`wait` for that. Hooks that keep failing
    deliveries become ``Failed``: :meth:`ensure_active` re-activates them.
    """

    _path = "/webhooks"

    async def create(
        self,
        web_url: str,
        *,
        events: EventsInput,
        secret: str | None = None,
        display_name: str | None = None,
        description: str | None = None,
        custom_properties: dict[str, str] | None = None,
    ) -> WebHook:
        """Register ``web_url`` for ``events`` (``WebHooks_Create``). With a ``secret``
        every notification is signed (``X-MicrosoftSpeechServices-Signature``); check it
        with :func:`speechrest.webhooks.verify_signature`."""
        url = check.http_url(web_url, "web_url")
        body = WebHook(
            display_name=check.name(display_name or f"Notifications to {URL(url).host}"),
            description=check.optional(check.text, description, "description"),
            custom_properties=check.optional(check.custom_properties, custom_properties),
            properties=WebHookProperties(
                secret=check.optional(check.text, secret, "secret") or None
            ),
            web_url=url,
            events=_events(events),
        )
        return await self._create(body, WebHook, "WebHooks_Create")

    async def get(self, hook: EntityRef) -> WebHook:
        """One web hook (``WebHooks_Get``)."""
        return await self._get(hook, WebHook, "WebHooks_Get", "web hook")

    async def update(
        self,
        hook: EntityRef,
        *,
        web_url: str | None = None,
        events: EventsInput | None = None,
        secret: str | None = None,
        display_name: str | None = None,
        description: str | None = None,
        custom_properties: dict[str, str] | None = None,
    ) -> WebHook:
        """Change a web hook (``WebHooks_Update``). Giving ``web_url`` (even the same one)
        makes the service challenge it again; ``secret=""`` stops signing."""
        body = WebHookUpdate(
            display_name=check.optional(check.name, display_name),
            description=check.optional(check.text, description, "description"),
            web_url=None if web_url is None else check.http_url(web_url, "web_url"),
            custom_properties=check.optional(check.custom_properties, custom_properties),
            properties=None
            if secret is None
            else WebHookPropertiesUpdate(secret=check.optional(check.text, secret, "secret")),
            events=None if events is None else _events(events),
        )
        return await self._update(hook, body, WebHook, "WebHooks_Update", "web hook")

    async def delete(self, hook: EntityRef) -> None:
        """Delete a web hook (``WebHooks_Delete``)."""
        await self._delete(hook, "WebHooks_Delete", "web hook")

    async def ping(self, hook: EntityRef) -> None:
        """Make the service send a ``ping`` event to the hook's URL (``WebHooks_Ping``)."""
        await self._api.request(
            "POST", self._target(hook, "web hook", ":ping"), operation="WebHooks_Ping"
        )

    async def test(self, hook: EntityRef) -> bool:
        """Make the service send, for each registered event kind, the last entity that
        triggered it (``WebHooks_Test``). False when there was nothing to send."""
        response = await self._api.request(
            "POST", self._target(hook, "web hook", ":test"), operation="WebHooks_Test"
        )
        return response.status != 204

    async def wait(
        self,
        hook: EntityRef,
        *,
        policy: PollPolicy | None = None,
        on_status: Callable[[WebHook], object] | None = None,
    ) -> WebHook:
        """Poll ``WebHooks_Get`` until the challenge is decided: return the active
        (``Succeeded``) hook or raise :class:`~speechrest.errors.OperationFailedError`."""
        return await self._wait_for(hook, WebHook, "WebHooks_Get", "web hook", policy, on_status)

    async def ensure_active(
        self, hook: EntityRef, *, wait: bool = False, policy: PollPolicy | None = None
    ) -> WebHook:
        """Re-activate a hook the service disabled (``WebHooks_Get``, then
        ``WebHooks_Update`` with the same ``web_url`` when its status is ``Failed``), the
        known recovery after repeated delivery failures. With ``wait=True`` also wait for
        the new challenge."""
        current = await self.get(hook)
        if current.status == Status.FAILED:
            current = await self.update(current, web_url=current.web_url)
        if wait and current.status != Status.SUCCEEDED:
            current = await self.wait(current, policy=policy)
        return current

    def list(
        self, *, skip: int | None = None, top: int | None = None, filter: str | None = None
    ) -> AsyncPager[WebHook]:
        """Every web hook (``WebHooks_List``). ``filter`` may use ``displayName``,
        ``description``, ``createdDateTime``, ``lastActionDateTime``, ``status`` and
        ``webUrl``."""
        return self._list(WebHook, "WebHooks_List", skip=skip, top=top, filter=filter)
