"""Live progress on a stream (stderr by default): a line when a case starts and when it ends, with
the calls made so far and the time left at the pace measured so far."""
import sys


class Progress:
    def __init__(self, total_calls: int, seconds_per_call: float, cases: int, stream=None, quiet: bool = False):
        self.total, self.done, self.spent = total_calls, 0, 0.0
        self.guess, self.cases = seconds_per_call, cases
        self.stream = stream or sys.stderr
        self.quiet = quiet

    def say(self, text: str) -> None:
        if not self.quiet:
            print(text, file=self.stream, flush=True)

    def call_done(self, seconds: float) -> None:
        self.done += 1
        self.spent += seconds

    def eta(self) -> float:
        pace = self.spent / self.done if self.done else self.guess
        return max(0, self.total - self.done) * pace

    def case_started(self, index: int, case) -> None:
        self.say(f"[{index + 1}/{self.cases}] {case.kind} {case.id} ...")

    def case_finished(self, index: int, result) -> None:
        self.say(f"[{index + 1}/{self.cases}] {result.status.upper()} {result.id} ({result.seconds:.1f} s): "
                 f"{result.message} | calls {self.done}/{self.total}, ~{self.eta():.0f} s left")
