"""The terminal adapter: the same flows as Slack, one command a line, from a person or a pipe."""

from __future__ import annotations

import asyncio
import logging
import os
import pwd
import shlex
from collections.abc import Awaitable, Callable
from typing import TextIO

from bot.adapters import text
from bot.config import Config, EscalationContact
from bot.engine import checklist
from bot.engine.audience import audience_label
from bot.engine.engine import Engine
from bot.engine.escalation import FLAGS
from bot.engine.headline import headline
from bot.engine.incident import Actor, Incident, MenuKind, TimerKind
from bot.engine.menus import menu_kind
from bot.engine.recovery import Interruption
from bot.engine.roles import seats
from bot.engine.severity import split_severity
from bot.errors import BotError, InvalidRequest
from bot.integrations import tickets
from bot.playbooks.models import EscalationLevel, FixStep, ManualStep
from bot.redact import redact

HELP = """\
Commands (STEP is a step id as listed; quotes work as in a shell):
  status                 headline and the current stage
  run [STEP]             run this stage's diagnostics (all at once), or one diagnostic
  show STEP              the full output of a step's last run
  causes                 root causes whose symptoms the findings match
  fix STEP [--to N]      request a fix: shows its dry-run preview and asks for approval
                         (--to picks from the menu it shows: a revision to roll back to,
                         a replica count, a factor to raise resources by)
  approve [ID] [as USER] approve a pending fix (the latest if no ID); it runs once
                         (`as USER` only in drills: the console acts as your login)
  deny [ID] [REASON]     drop a pending fix
  verify STEP            poll a verification step until it passes or times out
  done STEP [NOTE]       mark a manual item or message done
  draft NAME [eta=...]   fill a status-update template without posting it
  say NAME [eta=...]     fill a status-update template and post it
  next | goto STAGE      move to the next stage, or to a stage by id
  commander              claim incident commander
  role ROLE @USER | roles             hand a role (commander, communications, operations, ...)
                                      to someone, or list who holds each
  sev N                  change the severity (1 critical .. 4 low)
  stats [7d|30d|90d]     time to acknowledge, mitigate and resolve; fix outcomes
  escalate LEVEL | onit LEVEL        escalate now, or acknowledge a nudge without escalating
  flag NAME              report security-suspected, data-loss or customer-escalations
  snooze escalation|reminder [MIN]   snooze nudges (default 10 minutes);  mute | unmute reminders
  timeline               everything that happened, in order
  open PLAYBOOK SERVICE [--sev N] [SUMMARY]   open an incident;  list / use ID   switch incidents
  resolve [ROOT CAUSE] [-- RESOLUTION]   resolve and print the post-incident document
  checklist              the post-incident checklist (works after resolve)
  check KEY | uncheck KEY | owner KEY NAME   tick, untick or assign an item, e.g. within-24h.0
  ticket KEY             file the item as a GitHub or Jira issue (the config's tickets:)
  help | quit"""

Handler = Callable[[list[str]], Awaitable[None]]
_MENU_NOUNS: dict[MenuKind, str] = {
    "revision": "revision",
    "replicas": "replica count",
    "resources": "factor",
}
log = logging.getLogger(__name__)


class Console:
    def __init__(
        self,
        engine: Engine,
        actor: Actor,
        stdin: TextIO,
        stdout: TextIO,
        *,
        echo: bool,
        drill: bool = False,
    ) -> None:
        self.engine = engine
        self.actor = actor
        # Only a drill lets one person play the second approver; elsewhere `as` would let anyone
        # at a shared store approve as an approver.
        self.drill = drill
        self.stdin = stdin
        self.stdout = stdout
        # Echo commands read from a pipe so a transcript reads like the session it was.
        self.echo = echo
        self.incident_id: str | None = None
        self._handlers: dict[str, Handler] = {
            "help": self._help, "status": self._status, "run": self._run, "show": self._show,
            "causes": self._causes, "fix": self._fix, "approve": self._approve,
            "deny": self._deny, "verify": self._verify, "done": self._done,
            "draft": self._draft, "say": self._say, "next": self._next, "goto": self._goto,
            "commander": self._commander, "timeline": self._timeline, "open": self._open,
            "list": self._list, "use": self._use, "resolve": self._resolve,
            "escalate": self._escalate, "onit": self._on_it, "snooze": self._snooze,
            "mute": self._mute, "unmute": self._unmute, "checklist": self._checklist,
            "check": self._check, "uncheck": self._uncheck, "owner": self._owner,
            "ticket": self._ticket,
            "flag": self._flag, "role": self._role, "roles": self._roles, "sev": self._sev,
            "stats": self._stats,
        }  # fmt: skip

    def say(self, message: str) -> None:
        self.stdout.write(message.rstrip("\n") + "\n")
        self.stdout.flush()

    async def run(self) -> int:
        """Read and execute commands until `quit` or end of input. Returns the exit code."""
        while True:
            if not self.echo:
                self.stdout.write(f"{self.incident_id or 'runbook-bot'}> ")
                self.stdout.flush()
            line = await asyncio.to_thread(self.stdin.readline)
            if not line:
                return 0
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if self.echo:
                self.say(f"> {redact(line)}")
            if line in ("quit", "exit"):
                return 0
            await self.execute(line)

    async def execute(self, line: str) -> None:
        words = _words(line)
        handler = self._handlers.get(words[0].lower())
        if handler is None:
            self.say(f"error: unknown command '{words[0][:40]}' (type help)")
            return
        try:
            await handler(words[1:])
        except BotError as exc:
            self.say(f"error: {exc}")
        except Exception as exc:
            # A bug in one command must not end the responder's session mid-incident.
            log.error("command %r failed: %s", words[0], exc)
            self.say(f"error: internal error in '{words[0]}' ({type(exc).__name__}); see the log")

    async def current(self) -> Incident:
        if self.incident_id is None:
            raise InvalidRequest("no incident selected: open one, or list and use ID")
        return await self.engine.get(self.incident_id)

    async def show_overview(self) -> None:
        incident = await self.current()
        playbook = self.engine.playbook_for(incident)
        self.say(text.render_headline(headline(incident, playbook, self.engine.clock())))
        stage = playbook.stages[incident.stage_index]
        count = len(playbook.stages)
        self.say(text.render_stage(stage, incident, incident.stage_index + 1, count))

    # --- commands ---------------------------------------------------------------------

    async def _help(self, args: list[str]) -> None:
        self.say(HELP)

    async def _status(self, args: list[str]) -> None:
        await self.show_overview()

    async def _run(self, args: list[str]) -> None:
        incident = await self.current()
        if args:
            run = await self.engine.run_step(incident.id, args[0], self.actor)
            self.say(text.render_run(run, self._title(incident, run.step_id), lines=20))
        else:
            stage = self.engine.stage(incident)
            self.say(f"Running the diagnostics of '{stage.title}' ...")
            for run in await self.engine.run_stage(incident.id, self.actor):
                self.say(text.render_run(run, self._title(incident, run.step_id)))
        self.say(text.render_causes(self.engine.causes(await self.current())))

    async def _show(self, args: list[str]) -> None:
        step_id = _one(args, "show STEP")
        run = (await self.current()).step_runs.get(step_id)
        if run is None:
            raise InvalidRequest(f"step '{step_id}' has not run yet")
        self.say(text.render_run(run, self._title(await self.current(), step_id), lines=0))
        self.say(text.indent(run.output or "(no output)", None, "  | "))

    async def _causes(self, args: list[str]) -> None:
        self.say(text.render_causes(self.engine.causes(await self.current())))

    async def _fix(self, args: list[str]) -> None:
        incident = await self.current()
        choice = None
        if len(args) == 3 and args[1] == "--to":
            if not args[2].isdigit():
                noun = _MENU_NOUNS[self._menu_of(incident, args[0])]
                raise InvalidRequest(f"--to takes a {noun} number, not {args[2]!r}")
            choice, args = int(args[2]), args[:1]
        step = _one(args, "fix STEP [--to N]")
        approval = await self.engine.request_fix(incident.id, step, self.actor, choice)
        self.say(f"Fix requested: {approval.title}")
        self.say(text.render_preview(approval.preview))
        others = [c for c in approval.choices if c.value != approval.choice]
        if others:
            menu = "; ".join(c.label for c in others)
            self.say(f"Other {_MENU_NOUNS[approval.menu]}s: {menu} (`fix {step} --to N` picks one)")
        second = " by someone other than the requester" if approval.destructive else ""
        other = f" (or `approve {approval.id} as USER`)" if self.drill else ""
        self.say(
            f"Approval {approval.id} is needed{second}: `approve {approval.id}`{other} "
            f"to run it once, `deny {approval.id}` to drop it."
        )

    async def _approve(self, args: list[str]) -> None:
        incident = await self.current()
        approver = self.actor
        if len(args) >= 2 and args[-2] == "as":
            if not self.drill:
                raise InvalidRequest(
                    f"`as USER` works only in drills; the console acts as {self.actor.label}"
                )
            approver = Actor(id=args[-1], name=args[-1])
            args = args[:-2]
        approval_id = args[0] if args else _latest_pending(incident)

        async def progress(message: str) -> None:
            self.say(f"    verifying: {message}")

        approval = await self.engine.approve(incident.id, approval_id, approver, progress)
        self.say(text.render_approval(approval))

    async def _deny(self, args: list[str]) -> None:
        incident = await self.current()
        approval_id = args[0] if args else _latest_pending(incident)
        approval = await self.engine.deny(incident.id, approval_id, self.actor, " ".join(args[1:]))
        self.say(text.render_approval(approval))

    async def _verify(self, args: list[str]) -> None:
        incident = await self.current()

        async def progress(message: str) -> None:
            self.say(f"    {message}")

        run = await self.engine.verify(incident.id, _one(args, "verify STEP"), self.actor, progress)
        self.say(text.render_run(run, self._title(incident, run.step_id)))

    async def _done(self, args: list[str]) -> None:
        if not args:
            raise InvalidRequest("usage: done STEP [NOTE]")
        incident = await self.engine.mark_done(
            (await self.current()).id, args[0], self.actor, " ".join(args[1:])
        )
        step = self.engine.playbook_for(incident).find_step(args[0])
        if step is not None and isinstance(step[1], ManualStep):
            self.say(f"[done] {step[1].title}")

    async def _draft(self, args: list[str]) -> None:
        name, eta = _template_args(args)
        body = await self.engine.render_status((await self.current()).id, name, eta)
        self.say(f"Draft '{name}' (not posted):\n" + text.indent(body, None, "  | "))

    async def _say(self, args: list[str]) -> None:
        name, eta = _template_args(args)
        incident = await self.current()
        body = await self.engine.render_status(incident.id, name, eta)
        posted = await self.engine.post_status(incident.id, name, body, self.actor)
        where = audience_label(posted.status_updates[-1].audience)
        self.say(f"Posted status update '{name}' to {where}:\n" + text.indent(body, None, "  | "))

    async def _next(self, args: list[str]) -> None:
        await self.engine.advance((await self.current()).id, self.actor)
        await self.show_overview()

    async def _goto(self, args: list[str]) -> None:
        await self.engine.advance((await self.current()).id, self.actor, _one(args, "goto STAGE"))
        await self.show_overview()

    async def _commander(self, args: list[str]) -> None:
        incident = await self.engine.claim_commander((await self.current()).id, self.actor)
        self.say(f"{incident.commander} is incident commander of {incident.id}")

    async def _timeline(self, args: list[str]) -> None:
        self.say(text.render_timeline(await self.current()))

    async def _role(self, args: list[str]) -> None:
        if len(args) != 2:
            raise InvalidRequest("usage: role ROLE @USER (see `roles`)")
        incident = await self.engine.assign_role(
            (await self.current()).id, args[0], args[1], self.actor
        )
        self.say(f"{incident.id}: {incident.timeline[-1].text}")

    async def _roles(self, args: list[str]) -> None:
        incident = await self.current()
        for seat in seats(incident, self.engine.playbook_for(incident)):
            self.say(f"  {seat.title:<22} {seat.holder or 'unassigned'}")

    async def _sev(self, args: list[str]) -> None:
        incident = await self.engine.set_severity(
            (await self.current()).id, _one(args, "sev N (1 critical .. 4 low)"), self.actor
        )
        self.say(f"{incident.id}: {incident.timeline[-1].text}")

    async def _stats(self, args: list[str]) -> None:
        if len(args) > 1:
            raise InvalidRequest("usage: stats [7d|30d|90d]")
        self.say(text.render_stats(await self.engine.stats(args[0] if args else None)))

    async def _open(self, args: list[str]) -> None:
        args, severity = split_severity(args)
        if len(args) < 2:
            raise InvalidRequest("usage: open PLAYBOOK SERVICE [--sev N] [SUMMARY]")
        incident = await self.engine.open(
            args[0], args[1], self.actor, " ".join(args[2:]), severity
        )
        self.incident_id = incident.id
        self.say(f"Opened {incident.id}.")
        await self.show_overview()

    async def _list(self, args: list[str]) -> None:
        incidents = await self.engine.list_incidents("open")
        if not incidents:
            self.say("No open incidents.")
        for incident in incidents:
            stage = self.engine.stage(incident).title
            self.say(f"  {incident.id}  {incident.playbook_id}  {incident.service}  {stage}")

    async def _use(self, args: list[str]) -> None:
        incident = await self.engine.get(_one(args, "use ID"))
        self.incident_id = incident.id
        await self.show_overview()

    async def _resolve(self, args: list[str]) -> None:
        words = " ".join(args)
        root_cause, _, resolution = words.partition("--")
        incident = await self.engine.resolve(
            (await self.current()).id, self.actor, root_cause.strip(), resolution.strip()
        )
        self.say(f"{incident.id} resolved.\n")
        self.say(await self.engine.post_incident_document(incident.id))
        if incident.drill is not None:
            # Last, as in Slack: the score is what a game day ends on.
            self.say("\n".join((await self.engine.drill_score(incident.id)).lines()))

    async def _checklist(self, args: list[str]) -> None:
        incident = await self.current()
        now = self.engine.clock()
        for found in checklist.applicable(self.engine.playbook_for(incident), incident):
            self.say(
                f"{found.title} (due {checklist.due(found, incident, now):%Y-%m-%d %H:%M} UTC)"
            )
            for task in checklist.tasks(found, incident):
                mark = "x" if task.state.done else " "
                owner = f" (owner: {task.state.owner})" if task.state.owner else ""
                ticket = f" (ticket: {task.state.ticket})" if task.state.ticket else ""
                self.say(f"  [{mark}] {task.key}  {task.text}{owner}{ticket}")

    async def _check(self, args: list[str]) -> None:
        key = _one(args, "check KEY")
        await self.engine.check_item((await self.current()).id, key, self.actor)
        await self._checklist([])

    async def _uncheck(self, args: list[str]) -> None:
        key = _one(args, "uncheck KEY")
        await self.engine.check_item((await self.current()).id, key, self.actor, done=False)
        await self._checklist([])

    async def _owner(self, args: list[str]) -> None:
        if len(args) < 2:
            raise InvalidRequest("usage: owner KEY NAME")
        incident = await self.current()
        await self.engine.assign_item(incident.id, args[0], " ".join(args[1:]), self.actor)
        await self._checklist([])

    async def _ticket(self, args: list[str]) -> None:
        key = _one(args, "ticket KEY")
        incident = await self.current()
        # A tracker's failure is a BotError: said in one line, the command can be run again.
        await tickets.file_ticket(self.engine, incident, key, self.actor, incident.id)
        await self._checklist([])

    async def _escalate(self, args: list[str]) -> None:
        level = _level(args, "escalate LEVEL")
        incident = await self.engine.escalate_now((await self.current()).id, level, self.actor)
        titles = {lv.level: lv.title for lv in self.engine.playbook_for(incident).escalation}
        contacts = self.engine.config.contact(level, titles.get(level, ""))
        who = (
            ", ".join(contacts.notify) if contacts and contacts.notify else "no contacts configured"
        )
        self.say(f"{incident.id} escalated to level {level}: notify {who}")

    async def _flag(self, args: list[str]) -> None:
        if len(args) != 1:
            raise InvalidRequest(f"usage: flag NAME ({', '.join(FLAGS)})")
        incident = await self.engine.raise_flag((await self.current()).id, args[0], self.actor)
        self.say(f"Flag raised: {incident.timeline[-1].text}")

    async def _on_it(self, args: list[str]) -> None:
        level = _level(args, "onit LEVEL")
        await self.engine.acknowledge_escalation((await self.current()).id, level, self.actor)
        self.say(f"Level {level} acknowledged: no more nudges for it.")

    async def _snooze(self, args: list[str]) -> None:
        if not args or args[0] not in ("escalation", "reminder") or len(args) > 2:
            raise InvalidRequest("usage: snooze escalation|reminder [MINUTES]")
        minutes = _number(args[1], "MINUTES") if len(args) == 2 else 10
        kind: TimerKind = "escalation" if args[0] == "escalation" else "reminder"
        await self.engine.snooze((await self.current()).id, kind, minutes, self.actor)
        self.say(f"{args[0].capitalize()} nudges snoozed for {minutes} min.")

    async def _mute(self, args: list[str]) -> None:
        await self.engine.mute_reminders((await self.current()).id, self.actor, True)
        self.say("Status-update reminders muted.")

    async def _unmute(self, args: list[str]) -> None:
        await self.engine.mute_reminders((await self.current()).id, self.actor, False)
        self.say("Status-update reminders back on.")

    def _menu_of(self, incident: Incident, step_id: str) -> MenuKind:
        found = self.engine.playbook_for(incident).find_step(step_id)
        step = found[1] if found else None
        kind = menu_kind(step.action) if isinstance(step, FixStep) else None
        return kind or "revision"

    def _title(self, incident: Incident, step_id: str) -> str:
        found = self.engine.playbook_for(incident).find_step(step_id)
        return found[1].title if found else step_id


def _words(line: str) -> list[str]:
    """Shell-like words; free text with a lone quote ("can't") keeps the quote as a letter."""
    try:
        return shlex.split(line)
    except ValueError:
        # Quotes that do balance still group words; only the unbalanced one is literal.
        lexer = shlex.shlex(line, posix=True)
        lexer.whitespace_split = True
        lexer.quotes = '"' if line.count('"') % 2 == 0 else ""
        lexer.escape = ""
        return list(lexer)


def _one(args: list[str], usage: str) -> str:
    if len(args) != 1:
        raise InvalidRequest(f"usage: {usage}")
    return args[0]


def _number(text: str, what: str) -> int:
    if not text.isdigit():
        raise InvalidRequest(f"{what} must be a whole number, not '{text[:20]}'")
    return int(text)


def _level(args: list[str], usage: str) -> int:
    return _number(_one(args, usage), "LEVEL")


def _template_args(args: list[str]) -> tuple[str, str]:
    if not args:
        raise InvalidRequest("usage: say NAME [eta=...]")
    eta = " ".join(a for a in args[1:]).removeprefix("eta=")
    return args[0], eta


def _latest_pending(incident: Incident) -> str:
    pending = [a.id for a in incident.approvals.values() if a.state == "pending"]
    if not pending:
        raise InvalidRequest("no fix is waiting for approval (fix STEP requests one)")
    return pending[-1]


def os_login() -> str:
    """The login of the process's real user ID; unlike getpass.getuser(), no environment
    variable (USER, LOGNAME) can change it."""
    return pwd.getpwuid(os.getuid()).pw_name


def console_actor(config: Config, login: str) -> Actor:
    """Who the console acts as: the login's user ID from `console_users:`, else the login itself,
    under an ID no approver list can hold, so it can read and work the incident but not approve."""
    mapped = config.console_users.get(login)
    if mapped:
        return Actor(id=mapped, name=mapped)
    return Actor(id=f"console:{login}", name=login)


class ConsoleNotifier:
    """Prints escalation nudges, status reminders and interrupted fixes between commands."""

    def __init__(self, console: Console) -> None:
        self.console = console

    async def escalation_due(
        self,
        incident: Incident,
        level: EscalationLevel,
        contacts: EscalationContact | None,
        late: bool,
    ) -> None:
        who = (
            ", ".join(contacts.notify) if contacts and contacts.notify else "no contacts configured"
        )
        self.console.say(
            f"\n!! {incident.id}: time to escalate to level {level.level} ({level.title}); "
            f"notify {who}{' (late: the bot was down when this was due)' if late else ''}.\n"
            f"   `escalate {level.level}`, `onit {level.level}` or `snooze escalation 10`"
        )

    async def commander_needed(self, incident: Incident, late: bool) -> None:
        self.console.say(
            f"\n!! {incident.id} has no commander: who is leading? "
            "`commander` to take it, or `role commander @USER`"
        )

    async def status_reminder(self, incident: Incident, late: bool) -> None:
        self.console.say(
            f"\n!! {incident.id}: a status update is due"
            f"{' (late: the bot was down when this was due)' if late else ''}. "
            "`say update`, `snooze reminder 10` or `mute`"
        )

    async def fix_interrupted(self, interruption: Interruption) -> None:
        incident, fresh = interruption.incident, interruption.fresh
        lines = [f"\n!! {incident.id}: {interruption.text}"]
        if fresh is not None:
            lines.append("   " + text.render_preview(fresh.preview).replace("\n", "\n   "))
            lines.append(f"   `approve {fresh.id}` to run it once, `deny {fresh.id}` to drop it.")
        self.console.say("\n".join(lines))
