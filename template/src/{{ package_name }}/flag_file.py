"""Flags from a flagd JSON file, evaluated by flagd's core (no gRPC import), polled for changes."""

import json
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from openfeature.contrib.tools.flagd.core import FlagdCore
from openfeature.evaluation_context import EvaluationContext
from openfeature.event import ProviderEventDetails
from openfeature.exception import ErrorCode, ProviderNotReadyError
from openfeature.flag_evaluation import FlagResolutionDetails, FlagValueType
from openfeature.provider import AbstractProvider, Metadata

ObjectValue = Sequence[FlagValueType] | Mapping[str, FlagValueType]
Context = EvaluationContext | None


class FlagFileProvider(AbstractProvider):
    """An OpenFeature provider over one flagd JSON file; a bad file keeps the last good flags."""

    def __init__(self, path: Path, poll_interval: float) -> None:
        super().__init__()
        self.path = path
        self.poll_interval = poll_interval
        self._core = FlagdCore()
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self._content: bytes | None = None  # the file as last read, good or bad
        self._failing = False

    def get_metadata(self) -> Metadata:
        """The provider's name, as events and hooks report it."""
        return Metadata(name="flag-file")

    def initialize(self, evaluation_context: EvaluationContext) -> None:
        """Read the file once; the watcher starts whatever the outcome (so a fix is seen)."""
        try:
            self._content = self.path.read_bytes()
            self._load(self._content)
        except Exception as exc:
            self._failing = True
            raise ProviderNotReadyError(_reason(exc)) from exc
        finally:
            self._stop.clear()
            self._watcher = threading.Thread(
                target=self._watch, name="flag-file-watcher", daemon=True
            )
            self._watcher.start()

    def shutdown(self) -> None:
        """Stop watching the file."""
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=self.poll_interval + 1)
            self._watcher = None

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_interval):
            self.poll()

    def poll(self) -> None:
        """Re-read the file; on a change, load it, and report failure or recovery once."""
        try:
            content = self.path.read_bytes()
        except OSError as exc:
            self._content = None
            self._fail(exc)
            return
        if content == self._content:
            return
        self._content = content
        try:
            self._load(content)
        except Exception as exc:
            self._fail(exc)
            return
        if self._failing:
            self._failing = False
            self.emit_provider_ready(ProviderEventDetails(message="the flag file is readable"))

    def _load(self, content: bytes) -> None:
        data = json.loads(content)
        if not isinstance(data, dict):
            raise ValueError('a flag file is a JSON object: {"flags": {...}}')
        changed = self._core.set_flags_and_get_changed_keys(data)  # validates, then swaps
        if changed:
            self.emit_provider_configuration_changed(ProviderEventDetails(flags_changed=changed))

    def _fail(self, exc: Exception) -> None:
        if self._failing:
            return
        self._failing = True
        self.emit_provider_error(
            ProviderEventDetails(message=_reason(exc), error_code=ErrorCode.PARSE_ERROR)
        )

    def resolve_boolean_details(
        self, flag_key: str, default_value: bool, evaluation_context: Context = None
    ) -> FlagResolutionDetails[bool]:
        """Evaluate a boolean flag."""
        return self._core.resolve_boolean_value(flag_key, default_value, evaluation_context)

    def resolve_string_details(
        self, flag_key: str, default_value: str, evaluation_context: Context = None
    ) -> FlagResolutionDetails[str]:
        """Evaluate a string flag."""
        return self._core.resolve_string_value(flag_key, default_value, evaluation_context)

    def resolve_integer_details(
        self, flag_key: str, default_value: int, evaluation_context: Context = None
    ) -> FlagResolutionDetails[int]:
        """Evaluate an integer flag."""
        return self._core.resolve_integer_value(flag_key, default_value, evaluation_context)

    def resolve_float_details(
        self, flag_key: str, default_value: float, evaluation_context: Context = None
    ) -> FlagResolutionDetails[float]:
        """Evaluate a float flag."""
        return self._core.resolve_float_value(flag_key, default_value, evaluation_context)

    def resolve_object_details(
        self, flag_key: str, default_value: ObjectValue, evaluation_context: Context = None
    ) -> FlagResolutionDetails[ObjectValue]:
        """Evaluate an object flag."""
        return self._core.resolve_object_value(flag_key, default_value, evaluation_context)


def _reason(exc: Exception) -> str:
    if isinstance(exc, FileNotFoundError):
        return "the flag file does not exist"
    if isinstance(exc, json.JSONDecodeError):
        return f"the flag file is not valid JSON: {exc.msg} (line {exc.lineno})"
    detail = getattr(exc, "error_message", None) or str(exc) or type(exc).__name__
    return f"the flag file is not a valid flag definition: {detail}"
