"""The `roomcast` command.

- `roomcast dev`: the whole system locally (see `roomcast.dev.supervisor`).
- `roomcast token`: mint a development JWT; prints only the token.
- `roomcast migrate`: bring the database schema up to date.
- `roomcast gateway|rooms|presence|persistence`: run one service in the foreground.
- `roomcast tenant set|show`: change or read a tenant's run-time settings.
- `roomcast entity created|updated|deleted|member-added|member-removed`: publish an
  entity lifecycle event.
- `roomcast policy serve|list|revoke`: run room kinds' policies, list kinds, revoke.
- `roomcast docs [--check]`: regenerate (or check) the documents made from `contracts/`.
- `roomcast notify|publish`: send a notification (prints its id) or an app event.

Settings come from a flag, else the `ROOMCAST_*` environment variable, else the
`dev.json` of a running `roomcast dev` (`--data-dir`), else a default.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import runpy
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from pydantic import BaseModel

from roomcast import registry
from roomcast.dev import devstate
from roomcast.dev.restarts import DEFAULT_MAX_CRASHES, DEFAULT_WINDOW, RestartPolicy
from roomcast.dev.tokens import ClaimNames, mint
from roomcast.platform.settings import describe, env_value, load_settings

if TYPE_CHECKING:
    from contracts.endpoints import Endpoint
    from contracts.errors import Reply

Req = TypeVar("Req", bound=BaseModel)
Rep = TypeVar("Rep", bound="Reply")
DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


class CommandError(Exception):
    """A user-facing failure: printed as `roomcast: <message>`, exit code 1."""


def parse_value(text: str) -> bool | int | str:
    """A `tenant set` value: `true`/`false` → bool, an integer → int, else the string."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return int(text)
    except ValueError:
        return text


def _cmd_dev(args: argparse.Namespace) -> int:
    from roomcast.dev import supervisor

    if args.gateways < 1:
        raise CommandError("--gateways must be at least 1")
    if args.max_crashes < 1 or args.crash_window <= 0:
        raise CommandError("--max-crashes must be at least 1 and --crash-window positive")
    if not 1 <= args.nats_cluster <= 5:
        raise CommandError("--nats-cluster must be 1 to 5")
    policy = RestartPolicy(max_crashes=args.max_crashes, window=args.crash_window)
    return supervisor.run(
        args.dir,
        port=args.port,
        gateways=args.gateways,
        policy=policy,
        nats_cluster=args.nats_cluster,
    )


def _cmd_service_key(args: argparse.Namespace) -> int:
    from services.gateway.service_keys import new_key

    try:
        key, entry = new_key(args.name, args.tenant)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    print(key)
    print(f"ROOMCAST_SERVICE_API_KEYS entry: {entry}", file=sys.stderr)
    return 0


def _cmd_token(args: argparse.Namespace) -> int:
    secret = devstate.resolve(
        "ROOMCAST_JWT_SECRET",
        "jwt_secret",
        flag=args.secret,
        default=devstate.stored_secret(args.dir),
        directory=args.dir,
    )
    if not secret:
        raise CommandError(
            "no JWT secret: pass --secret, set ROOMCAST_JWT_SECRET, or start `roomcast dev`"
        )
    env = os.environ.get
    token = mint(
        secret,
        args.user,
        args.tenant,
        args.role,
        name=args.name or None,
        ttl=args.ttl,
        audience=env("ROOMCAST_JWT_AUDIENCE") or None,
        issuer=env("ROOMCAST_JWT_ISSUER") or None,
        names=ClaimNames.from_env(),
    )
    print(token)
    return 0


def _cmd_migrate(args: argparse.Namespace) -> int:
    url = devstate.resolve(
        "ROOMCAST_DATABASE_URL",
        "database_url",
        flag=args.database_url,
        default=DEFAULT_DATABASE_URL,
        directory=args.dir,
    )
    assert url is not None
    from roomcast.migrations import migrate

    migrate(url)
    print("database is up to date", file=sys.stderr)
    return 0


def _cmd_service(args: argparse.Namespace) -> int:
    runpy.run_module(registry.get(args.command).module, run_name="__main__", alter_sys=True)
    return 0


def _nats_options() -> dict[str, Any]:
    """TLS and credentials for NATS from the `ROOMCAST_*` environment, as services use."""
    from roomcast.platform.backbone import nats_options
    from roomcast.platform.settings import CommonSettings

    return nats_options(load_settings(CommonSettings))


async def _request(url: str, endpoint: Endpoint[Req, Rep], payload: Req) -> Rep:
    """Call `endpoint` on the system at `url` (one connection, no reconnects)."""
    import nats
    from nats.errors import NoServersError

    from contracts.errors import ErrorCode, ServiceError
    from roomcast.platform import bus
    from roomcast.platform.settings import nats_servers

    async def quiet(exc: Exception) -> None:
        """Connection errors are reported once, below, not logged per attempt."""

    try:
        nc = await asyncio.wait_for(
            nats.connect(
                servers=nats_servers(url),
                **_nats_options(),
                connect_timeout=endpoint.timeout,
                allow_reconnect=False,
                max_reconnect_attempts=1,
                error_cb=quiet,
            ),
            timeout=2 * endpoint.timeout,
        )
    except (NoServersError, OSError, TimeoutError) as exc:
        raise CommandError(
            f"cannot connect to NATS at {url}: {exc or type(exc).__name__}"
        ) from None
    try:
        return await bus.request(nc, endpoint, payload)
    except ServiceError as exc:
        if exc.code is not ErrorCode.UNAVAILABLE:
            raise CommandError(f"{exc.code}: {exc.message}") from None
        raise CommandError(
            f"no answer on {endpoint.subject} within {endpoint.timeout:.0f} s: "
            f"is the {endpoint.server} service running? ({exc.message})"
        ) from None
    finally:
        await nc.close()


def _no_system(directory: Path) -> str:
    """Why no system was found, and how to point at one."""
    stale = devstate.load(directory)
    why = f"no running roomcast dev found in {directory}"
    if stale is not None:
        why += f" (its dev.json is stale: supervisor pid {stale.pid} is gone)"
    return (
        f"{why}; start one with `roomcast dev`, pass --data-dir for another one, "
        "or point at a system with --nats-url or ROOMCAST_NATS_URL"
    )


def _cmd_tenant(args: argparse.Namespace) -> int:
    from contracts import endpoints
    from contracts.tenants import GetTenantSettings, SetTenantSettings

    url = devstate.resolve("ROOMCAST_NATS_URL", "nats_url", flag=args.nats_url, directory=args.dir)
    if url is None:
        raise CommandError(_no_system(args.dir))
    if args.tenant_command == "set":
        values = {}
        for item in args.values:
            key, sep, raw = item.partition("=")
            if not sep or not key:
                raise CommandError(f"expected KEY=VALUE, got {item!r}")
            values[key] = parse_value(raw)
        command = SetTenantSettings(tenant=args.tenant, values=values)
        reply = asyncio.run(_request(url, endpoints.TENANT_SETTINGS_SET, command))
    else:
        query = GetTenantSettings(tenant=args.tenant)
        reply = asyncio.run(_request(url, endpoints.TENANT_SETTINGS_GET, query))
    if not reply.ok or reply.settings is None:
        reason = f"{reply.error.code}: {reply.error.message}" if reply.error else "refused"
        raise CommandError(f"tenant {args.tenant}: {reason}")
    print(reply.settings.model_dump_json(indent=2))
    return 0


def _target(args: argparse.Namespace) -> dict[str, str]:
    """The `Target` the target flags of `notify` / `publish` name."""
    if args.platform_role is not None:
        return {"kind": "platform_role", "role": args.platform_role}
    if args.tenant is None:
        raise CommandError("--tenant is required (except with --platform-role)")
    t = {"tenant": args.tenant}
    if args.user is not None:
        return {"kind": "user", "userId": args.user, **t}
    if args.role is not None:
        return {"kind": "role", "role": args.role, **t}
    if args.room is not None:
        return {"kind": "room", "room": args.room, **t}
    return {"kind": "admins" if args.admins else "tenant", **t}


def _json_object(text: str | None) -> dict[str, object]:
    import orjson

    if text is None:
        return {}
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise CommandError(f"--data is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise CommandError("--data must be a JSON object")
    return value


def _publication(model: type[Req], payload: dict[str, object]) -> Req:
    from pydantic import ValidationError

    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        reasons = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'payload'}: {err['msg']}"
            for err in exc.errors()[:3]
        )
        raise CommandError(f"INVALID: {reasons}") from None


def _cmd_notify(args: argparse.Namespace) -> int:
    from contracts import endpoints
    from contracts.notifications import AppEvent, Notify

    url = devstate.resolve("ROOMCAST_NATS_URL", "nats_url", flag=args.nats_url, directory=args.dir)
    if url is None:
        raise CommandError(_no_system(args.dir))
    fields: dict[str, object] = {"target": _target(args), "data": _json_object(args.data)}
    if args.command == "publish":
        if args.event is None:
            raise CommandError("--event is required")
        command = _publication(AppEvent, {**fields, "event": args.event})
        published = asyncio.run(_request(url, endpoints.PUBLISH, command))
        _refused(published)
        return 0
    optional = {
        "event": args.event,
        "title": args.title,
        "body": args.body,
        "priority": args.priority,
        "expiresAt": args.expires_at,
        "idempotencyKey": args.idempotency_key,
    }
    fields |= {k: v for k, v in optional.items() if v is not None}
    reply = asyncio.run(_request(url, endpoints.NOTIFY, _publication(Notify, fields)))
    _refused(reply)
    print(reply.id)
    return 0


def _refused(reply: Reply) -> None:
    if not reply.ok:
        reason = f"{reply.error.code}: {reply.error.message}" if reply.error else "refused"
        raise CommandError(reason)


ENTITY_FLAGS: dict[str, dict[str, str]] = {
    "created": {"name": "name", "visibility": "visibility", "created_by": "createdBy"},
    "updated": {"name": "name", "visibility": "visibility"},
    "deleted": {},
    "member-added": {"user": "userId", "role": "role"},
    "member-removed": {"user": "userId"},
}
"""Per `roomcast entity` action: its optional flags (argparse dest → contract field)."""


def _cmd_entity(args: argparse.Namespace) -> int:
    """Publish one entity event; print its sequence in the entity stream."""
    from roomcast.sdk.entities import EntityEventRefused, entity_event

    action = args.entity_command
    fields: dict[str, object] = {
        "event": action.replace("-", "_"),
        "tenant": args.tenant,
        "type": args.type,
        "id": args.id,
    }
    if args.occurred_at is not None:
        fields["occurredAt"] = args.occurred_at
    allowed = ENTITY_FLAGS[action]
    for dest in ("name", "visibility", "created_by", "user", "role"):
        value = getattr(args, dest)
        if value is None:
            continue
        if dest not in allowed:
            raise CommandError(f"--{dest.replace('_', '-')} does not apply to `entity {action}`")
        fields[allowed[dest]] = value
    try:
        event = entity_event(fields)
    except EntityEventRefused as exc:
        raise CommandError(exc.reason) from None
    url = devstate.resolve("ROOMCAST_NATS_URL", "nats_url", flag=args.nats_url, directory=args.dir)
    if url is None:
        raise CommandError(_no_system(args.dir))
    print(asyncio.run(_publish_entity_event(url, event)))
    return 0


async def _publish_entity_event(url: str, event: BaseModel) -> int:
    import nats
    from nats.errors import NoServersError

    from roomcast.platform.settings import nats_servers
    from roomcast.sdk.entities import PUBLISH_TIMEOUT, EntityEventRefused, publish_entity_event

    async def quiet(exc: Exception) -> None:
        """Connection errors are reported once, below."""

    try:
        nc = await asyncio.wait_for(
            nats.connect(
                servers=nats_servers(url),
                **_nats_options(),
                connect_timeout=PUBLISH_TIMEOUT,
                allow_reconnect=False,
                error_cb=quiet,
            ),
            timeout=2 * PUBLISH_TIMEOUT,
        )
    except (NoServersError, OSError, TimeoutError) as exc:
        raise CommandError(
            f"cannot connect to NATS at {url}: {str(exc) or type(exc).__name__}"
        ) from None
    try:
        return await publish_entity_event(nc, event)
    except EntityEventRefused as exc:
        raise CommandError(f"refused: {exc.reason}") from None
    finally:
        await nc.close()


def _nats_url(args: argparse.Namespace) -> str:
    url = devstate.resolve("ROOMCAST_NATS_URL", "nats_url", flag=args.nats_url, directory=args.dir)
    if url is None:
        raise CommandError(_no_system(args.dir))
    return url


def _cmd_policy_serve(args: argparse.Namespace) -> int:
    from roomcast.platform.runtime import instance_name, setup_logging
    from roomcast.sdk import worker

    url = _nats_url(args)
    setup_logging(os.environ.get("ROOMCAST_LOG_LEVEL", "INFO"), "policy")
    name = instance_name(args.name or os.environ.get("ROOMCAST_INSTANCE_ID", ""), "policy")
    try:
        return worker.main(url, args.targets, name, args.concurrency, _nats_options())
    except (ImportError, AttributeError, ValueError) as exc:
        raise CommandError(f"policy serve: {exc}") from None


def _cmd_policy_list(args: argparse.Namespace) -> int:
    from contracts import endpoints
    from contracts.policies import ListKinds

    url = _nats_url(args)
    reply = asyncio.run(_request(url, endpoints.POLICY_KINDS, ListKinds()))
    if not reply.ok:
        reason = f"{reply.error.code}: {reply.error.message}" if reply.error else "refused"
        raise CommandError(f"policy list: {reason}")
    if not reply.kinds:
        print("no room kind is registered", file=sys.stderr)
    states = asyncio.run(_serving(url, [k.kind for k in reply.kinds if k.worker != "settings"]))
    print("KIND\tSTATE\tWORKER\tREGISTERED\tDESCRIPTION")
    for kind in reply.kinds:
        seen = kind.seen_at.isoformat(timespec="seconds")
        state = states.get(kind.kind, "declared")
        print(f"{kind.kind}\t{state}\t{kind.worker}\t{seen}\t{kind.description or ''}")
    return 0


async def _serving(url: str, kinds: list[str]) -> dict[str, str]:
    """`serving` or `down` for each kind: does one of its workers answer a ping?"""
    import nats

    from contracts import endpoints
    from contracts.errors import ServiceError
    from contracts.policies import Ping
    from roomcast.platform import bus
    from roomcast.platform.settings import nats_servers

    nc = await nats.connect(servers=nats_servers(url), allow_reconnect=False, **_nats_options())
    try:

        async def ping(kind: str) -> str:
            try:
                await bus.request(nc, endpoints.POLICY_PING.at(kind), Ping(kind=kind))
            except ServiceError:
                return "down"
            return "serving"

        return dict(zip(kinds, await asyncio.gather(*(ping(k) for k in kinds)), strict=True))
    finally:
        await nc.close()


def _cmd_policy_revoke(args: argparse.Namespace) -> int:
    from contracts import endpoints
    from contracts.policies import Revoke

    ask = Revoke(tenant=args.tenant, kind=args.kind, id=args.id, user_id=args.user)
    reply = asyncio.run(_request(_nats_url(args), endpoints.POLICY_REVOKE, ask))
    if not reply.ok:
        reason = f"{reply.error.code}: {reply.error.message}" if reply.error else "refused"
        raise CommandError(f"policy revoke: {reason}")
    print(f"revoked {reply.room} in {args.tenant}" + (f" for {args.user}" if args.user else ""))
    return 0


def _cmd_config(args: argparse.Namespace) -> int:
    """Print a service's effective settings (secrets masked) with their descriptions."""
    settings_cls = registry.get(args.service).settings_class()
    settings = load_settings(settings_cls)
    values = describe(settings)
    for name, field in settings_cls.model_fields.items():
        key = f"ROOMCAST_{name.upper()}"
        text = env_value(values[key])
        print(f"# {key} is not set" if text is None else f"{key}={shlex.quote(text)}")
        if field.description:
            print(f"    # {field.description}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `roomcast` command."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        dest="data_dir",
        help="dev data directory (default: $ROOMCAST_DATA_DIR or .roomcast)",
    )
    parser = argparse.ArgumentParser(prog="roomcast", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    dev = sub.add_parser(
        "dev",
        parents=[common],
        help="run everything locally",
        description=(
            "Run embedded NATS, PostgreSQL and Redis (unless ROOMCAST_*_URL names them) "
            "and every service. A service or server that dies is restarted after a "
            "back-off (0.5 s, doubling, at most 8 s) while the rest keep serving; when "
            "one crashes --max-crashes times within --crash-window seconds (default: 5 "
            "within 60 s), everything is stopped and the exit code is 1. Ctrl-C or "
            "SIGTERM stops everything and exits 0."
        ),
    )
    dev.add_argument("--port", type=int, default=8000, help="first gateway port (8000)")
    dev.add_argument("--gateways", type=int, default=1, help="gateway processes (1)")
    dev.add_argument(
        "--nats-cluster",
        type=int,
        default=1,
        metavar="N",
        help="run N embedded NATS servers as one JetStream cluster, streams replicated "
        "min(3, N) times (1: one server); kill one and watch messaging carry on",
    )
    dev.add_argument(
        "--max-crashes",
        type=int,
        default=DEFAULT_MAX_CRASHES,
        help=f"crashes of one part within --crash-window that end it ({DEFAULT_MAX_CRASHES})",
    )
    dev.add_argument(
        "--crash-window",
        type=float,
        default=DEFAULT_WINDOW,
        help=f"seconds over which crashes are counted ({DEFAULT_WINDOW:g})",
    )
    dev.set_defaults(handler=_cmd_dev)

    token = sub.add_parser("token", parents=[common], help="print a development JWT")
    token.add_argument("--user", required=True, help="user id")
    token.add_argument("--tenant", required=True, help="tenant id")
    token.add_argument("--role", default="member", help="role, e.g. member (default) or admin")
    token.add_argument("--name", help="display name")
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds (3600)")
    token.add_argument("--secret", help="HS256 secret (default: env, then roomcast dev)")
    token.set_defaults(handler=_cmd_token)

    keys = sub.add_parser("service-key", help="make a service API key for /api/server/...")
    keys_sub = keys.add_subparsers(dest="action", required=True, metavar="ACTION")
    new_key = keys_sub.add_parser(
        "new",
        help="print a new key (once) and its ROOMCAST_SERVICE_API_KEYS entry",
        description="Print a new service API key on stdout, and on stderr the entry to add "
        "to the gateways' ROOMCAST_SERVICE_API_KEYS (comma-separated). Only the entry's "
        "SHA-256 digest is kept by the gateways: store the key where the service reads it.",
    )
    new_key.add_argument("--name", required=True, help="the service's name (logs, limits)")
    new_key.add_argument("--tenant", help="the only tenant it may publish to (default: any)")
    new_key.set_defaults(handler=_cmd_service_key)

    migrate = sub.add_parser("migrate", parents=[common], help="apply database migrations")
    migrate.add_argument("--database-url", help="SQLAlchemy URL (default: env, then dev)")
    migrate.set_defaults(handler=_cmd_migrate)

    for name in registry.names():
        service = sub.add_parser(name, help=f"run the {name} service (settings from env)")
        service.set_defaults(handler=_cmd_service)

    config = sub.add_parser("config", help="print a service's effective settings")
    config.add_argument("service", choices=registry.names())
    config.set_defaults(handler=_cmd_config)

    docs = sub.add_parser("docs", help="regenerate the generated documents under docs/")
    docs.add_argument("--check", action="store_true", help="only check; exit 1 if stale")
    docs.set_defaults(
        handler=lambda args: importlib.import_module("roomcast.dev.docsgen").main(args.check)
    )

    for name, summary in (
        ("notify", "store and deliver a notification; prints its id"),
        ("publish", "deliver an app event (not stored) to the sockets of a target"),
    ):
        cmd = sub.add_parser(name, parents=[common], help=summary, description=summary)
        cmd.add_argument("--tenant", help="tenant of the target (ignored with --platform-role)")
        who = cmd.add_mutually_exclusive_group(required=True)
        who.add_argument("--user", help="one user of the tenant")
        who.add_argument("--role", help="the users of one role within the tenant")
        who.add_argument("--admins", action="store_true", help="the tenant's admins")
        who.add_argument("--all", action="store_true", help="every user of the tenant")
        who.add_argument("--room", help="an explicit room, e.g. course:42 or room:lobby")
        who.add_argument("--platform-role", help="the users of one role in every tenant")
        cmd.add_argument("--event", help="event name (publish: required)")
        cmd.add_argument("--data", help="a JSON object")
        if name == "notify":
            cmd.add_argument("--title", help="short title")
            cmd.add_argument("--body", help="text")
            cmd.add_argument("--priority", help="low, normal (default), high or urgent")
            cmd.add_argument(
                "--expires-at", type=int, help="ms since the epoch after which it is hidden"
            )
            cmd.add_argument("--idempotency-key", help="retries with the same key: same id")
        cmd.add_argument("--nats-url", help="NATS URL (default: env, then dev)")
        cmd.set_defaults(handler=_cmd_notify)

    tenant = sub.add_parser("tenant", help="tenant settings")
    tenant_sub = tenant.add_subparsers(dest="tenant_command", required=True, metavar="ACTION")
    setter = tenant_sub.add_parser("set", parents=[common], help="change settings")
    setter.add_argument("tenant")
    setter.add_argument("values", nargs="+", metavar="KEY=VALUE")
    show = tenant_sub.add_parser("show", parents=[common], help="print settings")
    show.add_argument("tenant")
    for action in (setter, show):
        action.add_argument("--nats-url", help="NATS URL (default: env, then dev)")
        action.set_defaults(handler=_cmd_tenant)
    _entity_parser(sub, common)
    _policy_parser(sub, common)
    return parser


def _entity_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    entity = sub.add_parser(
        "entity",
        help="publish an entity lifecycle event",
        description="Publish an entity lifecycle event to the JetStream stream the rooms "
        "service applies: `created` makes the primary room `{type}:{id}` (with "
        "--created-by as its admin), `updated` renames it, `deleted` archives it, "
        "`member-added` / `member-removed` change its members. Prints the event's stream "
        "sequence; exits 1 with the reason when the event is invalid or JetStream does "
        "not store it.",
    )
    actions = entity.add_subparsers(dest="entity_command", required=True, metavar="EVENT")
    for name in ENTITY_FLAGS:
        action = actions.add_parser(name, parents=[common], help=f"publish `{name}`")
        action.add_argument("--tenant", required=True, help="tenant id")
        action.add_argument("--type", required=True, help="entity type, e.g. event, group")
        action.add_argument("--id", required=True, help="entity id")
        action.add_argument("--name", help="room display name (created: required)")
        action.add_argument("--visibility", help="public or private")
        action.add_argument("--created-by", help="creator, made the room's admin")
        action.add_argument("--user", help="user id (member-added, member-removed)")
        action.add_argument("--role", help="member (default), moderator or admin")
        action.add_argument(
            "--occurred-at",
            type=int,
            help="ordering key: milliseconds since the epoch (default: now) or a version",
        )
        action.add_argument("--nats-url", help="NATS URL (default: env, then dev)")
        action.set_defaults(handler=_cmd_entity)


def _policy_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    policy = sub.add_parser("policy", help="room kinds answered by your own policies")
    actions = policy.add_subparsers(dest="policy_command", required=True, metavar="ACTION")
    serve = actions.add_parser(
        "serve",
        parents=[common],
        help="run RoomKind classes until SIGTERM",
        description="Serve each module:Class (a roomcast.sdk.RoomKind) in its kind's queue "
        "group, register the kinds with the rooms service, and run until SIGTERM or "
        "Ctrl-C (a graceful stop). Modules are imported from the working directory too.",
    )
    serve.add_argument("targets", nargs="+", metavar="module:Class")
    serve.add_argument("--name", help="worker name in logs and `policy list` (host-pid)")
    serve.add_argument(
        "--concurrency", type=int, default=64, help="questions answered at once per kind (64)"
    )
    serve.set_defaults(handler=_cmd_policy_serve)
    listing = actions.add_parser("list", parents=[common], help="print the registered kinds")
    listing.set_defaults(handler=_cmd_policy_list)
    revoke = actions.add_parser(
        "revoke", parents=[common], help="withdraw access to a room of a kind"
    )
    revoke.add_argument("tenant")
    revoke.add_argument("kind")
    revoke.add_argument("id", help="room id within the kind (42 of course:42)")
    revoke.add_argument("--user", help="only this user (default: everyone)")
    revoke.set_defaults(handler=_cmd_policy_revoke)
    for action in (serve, listing, revoke):
        action.add_argument("--nats-url", help="NATS URL (default: env, then dev)")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `roomcast` command; returns the exit code."""
    args = build_parser().parse_args(argv)
    args.dir = devstate.data_dir(getattr(args, "data_dir", None))
    handler = cast(Callable[[argparse.Namespace], int], args.handler)
    try:
        code = handler(args)
        sys.stdout.flush()
    except CommandError as exc:
        print(f"roomcast: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (`roomcast config rooms | head -1`): not an error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    return code


if __name__ == "__main__":
    sys.exit(main())
