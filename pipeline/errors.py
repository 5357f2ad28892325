"""The one error hierarchy. The CLI turns these into a single clear line each."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipeline.models import Usage

# The exit codes `paperbrief --help` documents, for cron: all done; a report but some papers
# failed; bad usage; no report could be written.
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NO_REPORT = 0, 1, 2, 3


class PaperbriefError(Exception):
    """Base of every error paperbrief raises on purpose."""


class UsageError(PaperbriefError):
    """Bad flags, settings or files given by the user (exit code 2)."""


class SettingsError(UsageError):
    """paperbrief.toml or an environment variable has a bad value."""


class PromptError(UsageError):
    """A prompt template is missing, malformed, or uses unknown placeholders."""


class OutputError(PaperbriefError):
    """A report or output file could not be written (disk full, read-only folder): exit 3, no
    report. Everything before it is in the cache, so the same command writes it next time."""


class PaperError(PaperbriefError):
    """One paper failed in one stage; the day's run goes on without it."""

    def __init__(self, message: str, *, paper_id: str = "", stage: str = "") -> None:
        super().__init__(message)
        self.paper_id = paper_id
        self.stage = stage
        # What the paper's calls cost before it failed, for its row in run.json (the summarize
        # stage sets it); the run's meter counted each call already, as it was paid.
        self.spent: Usage | None = None


class ExtractError(PaperError):
    """A PDF could not be read (corrupt, encrypted, no text layer, ...)."""


class MissingInputError(PaperError):
    """`--only STAGE` found no cached input for this paper."""


class DownloadError(PaperError):
    """A paper's PDF could not be fetched or was not a valid PDF."""


class FeedError(PaperbriefError):
    """arXiv's listing could not be fetched or parsed (the whole day, not one paper)."""


class LLMError(PaperError):
    """A model call failed for good (after retries).

    What the failed attempts still cost (a cut-off or refused reply spent tokens) was reported
    through the call's usage callback as it was spent; the summarize stage adds the paper's
    total as `spent`, for its row in the per-paper costs.
    """


class InvalidReplyError(LLMError):
    """The model's replies never validated against the reply schema; keeps the last reply."""

    def __init__(
        self,
        message: str,
        *,
        last_reply: str,
        paper_id: str = "",
        stage: str = "",
    ) -> None:
        super().__init__(message, paper_id=paper_id, stage=stage)
        self.last_reply = last_reply


class ReplyTooLongError(LLMError):
    """The reply was cut off at max_tokens (finish_reason "length"); never parsed as data."""


class RefusalError(LLMError):
    """The model refused to answer; recorded as a refusal, not as an invalid reply."""


class CallRefused(LLMError):
    """A call that was never sent: the run's cost cap, or a stop. The calls already on the wire
    are paid for, so they are let finish and their replies kept (a paper's other map notes)."""


class CallStopped(CallRefused):
    """The run was asked to stop (Ctrl-C, SIGTERM) before this call was sent."""


class RunStopped(PaperbriefError):
    """The run stopped on request, keeping everything it finished (exit 130, or 143 for a
    SIGTERM, as a shell reports a process ended by that signal)."""

    def __init__(self, message: str, *, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class EndpointCapabilityError(LLMError):
    """The endpoint rejected a feature (e.g. json_schema response_format) rather than the input."""
