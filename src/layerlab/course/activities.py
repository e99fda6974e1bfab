"""Active learning in a lesson: predict then measure, a short challenge, check your understanding.

- `predict("01", "startup-ratio")` shows the question (declared in course.yml) and
  a box for the guess; after the measuring cell, `handle.reveal(measured)` puts
  the guess next to the measured value with a one-line explanation. With no
  guess (nbval, `layerlab run`, Binder replay) it says so and goes on.
- `solution("02-lean-git")` is a button that loads a challenge's solution from
  its file when clicked: the solution is in no cell's source and no output
  until the learner asks for it. `layerlab.check(...)` (in layerlab.course.challenges)
  is the quick automatic check.
- `quiz("01")` renders the module's questions from course.yml; the answer and
  its explanation appear only once the learner answers.

Guesses live in the widgets, in the notebook's state only: nothing is written anywhere.
Every display carries a static HTML fallback, shown where no widget manager runs
(the HTML export, GitHub); the fallback never holds an answer or a solution.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ipywidgets as W

from layerlab import course as C
from layerlab.ground.settings import student_release

from .widgets import WIDGET_MIME, strip_tags

if TYPE_CHECKING:
    from IPython.display import HTML


def _module(module: str) -> C.Module:
    return C.load().module(module)


def fmt(x: float) -> str:
    """A number the way a person reads it: 1234, 56.7, 0.123."""
    if x == 0 or not math.isfinite(x):
        return str(x)
    a = abs(x)
    if float(x).is_integer() and a < 1e6:
        return str(int(x))
    if a >= 100:
        return f"{x:,.0f}"
    if a >= 10:
        return f"{x:.1f}"
    return f"{x:.3g}"


def parse_number(text: str) -> float | None:
    """A guess as typed: '12', '12.5', '1,5', '40 %', '3x'; None when there is none."""
    t = (text or "").strip().lower().replace(",", ".").rstrip("%x× ").strip()
    for unit in ("mib", "mb", "kb", "s", "steps", "step"):
        t = t.removesuffix(unit).strip()
    try:
        return float(t)
    except ValueError:
        return None


def compare(guess: float, measured: float) -> str:
    """How far a guess was from the measurement, in words."""
    if measured == guess:
        return "exactly right"
    if measured != 0 and abs(guess - measured) <= 0.1 * abs(measured):
        return "within 10%: well judged"
    if guess > 0 and measured > 0:
        r = measured / guess
        if r >= 1:
            return (
                f"the measurement is {fmt(r)} times your guess"
                if r >= 1.5
                else f"{fmt((r - 1) * 100)}% above your guess"
            )
        return (
            f"your guess is {fmt(1 / r)} times the measurement"
            if 1 / r >= 1.5
            else f"{fmt((1 - r) * 100)}% below your guess"
        )
    return f"off by {fmt(abs(guess - measured))}"


class _Shown:
    """A widget shown as one output together with a static HTML fallback."""

    widget: W.Widget

    def static_html(self) -> str:
        raise NotImplementedError

    def static_text(self) -> str:
        return html.unescape(strip_tags(self.static_html())).strip()

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {
            WIDGET_MIME: {"version_major": 2, "version_minor": 0, "model_id": self.widget.model_id},
            "text/html": self.static_html(),
            "text/plain": self.static_text(),
        }


# --- predict, then measure -------------------------------------------------


@dataclass
class Revealed:
    guess: float | None
    measured: float
    text: str


class Prediction(_Shown):
    def __init__(self, module: str, spec: C.Prediction):
        self.module, self.spec = module, spec
        self.guess = W.Text(
            placeholder=f"your guess, in {spec.unit}", description="guess:", layout=W.Layout(width="260px")
        )
        self.result = W.HTML("")
        self.revealed: Revealed | None = None
        question = W.HTML(f"<b>Predict.</b> {html.escape(spec.question)} <i>({html.escape(spec.unit)})</i>")
        hint = W.HTML("<small>Type your guess, then run the cells below; the measurement appears next to it.</small>")
        self.widget = W.VBox([question, W.HBox([self.guess, hint]), self.result])

    def static_html(self) -> str:
        return (
            f"<p><b>Predict.</b> {html.escape(self.spec.question)} <i>({html.escape(self.spec.unit)})</i><br>"
            "<small>In JupyterLab a box takes your guess here; the cells below measure it.</small></p>"
        )

    def reveal(self, measured: float, note: str = "") -> None:
        """Show the guess next to the measured value, and why; with no guess, say so and go on."""
        guess = parse_number(self.guess.value)
        unit = self.spec.unit
        shown = f"{fmt(measured)} {unit}"
        if guess is None:
            head = f"no guess entered: measured {shown}"
        else:
            head = f"your guess {fmt(guess)} {unit}, measured {shown}: {compare(guess, measured)}"
        why = self.spec.why + (f" {note}" if note else "")
        text = f"[{self.spec.id}] {head}\n  why: {why}"
        self.revealed = Revealed(guess, measured, text)
        self.result.value = f"<p><b>{html.escape(head)}</b><br>{html.escape(why)}</p>"
        print(text)


def predict(module: str, prediction_id: str) -> Prediction:
    """Show the prediction `prediction_id` of `module` (course.yml) with a box for the guess."""
    return Prediction(module, _module(module).prediction(prediction_id))


# --- a challenge's hidden solution -----------------------------------------


class Solution(_Shown):
    def __init__(self, spec: C.Challenge):
        self.spec = spec
        self.button = W.Button(description="Show the solution", icon="eye")
        self.out = W.HTML("")  # empty until asked: widget state is saved in the notebook
        self.button.on_click(lambda _b: self.show())
        self.widget = W.VBox([self.button, self.out])

    @property
    def with_instructor(self) -> bool:
        """A student release carries no challenge answers: the solution is the instructor's to give."""
        return student_release(C.REPO) and not (C.REPO / self.spec.solution).is_file()

    def show(self) -> str:
        if self.with_instructor:
            text = f"The solution of {self.spec.id} is with your instructor: this copy of the course has no answers."
            self.out.value = f"<p><i>{html.escape(text)}</i></p>"
            return text
        text = (C.REPO / self.spec.solution).read_text(encoding="utf-8")
        self.out.value = f"<pre>{html.escape(text)}</pre>"
        return text

    def static_html(self) -> str:
        if self.with_instructor:
            return (
                f"<p><i>Solution of {html.escape(self.spec.id)}: with your instructor "
                "(this copy of the course has no answers); <code>layerlab.check</code> tells you when yours works.</i></p>"
            )
        return (
            f"<p><i>Solution of {html.escape(self.spec.id)} hidden: press the button in JupyterLab, "
            f"or open <code>{html.escape(self.spec.solution)}</code> once you have tried.</i></p>"
        )


def solution(challenge_id: str) -> Solution:
    """A button that loads the challenge's solution from its file, only when pressed."""
    return Solution(C.load().challenge(challenge_id))


def challenge(challenge_id: str) -> HTML:
    """The challenge's title and time, as a heading line."""
    c = C.load().challenge(challenge_id)
    from IPython.display import HTML

    return HTML(f"<p><b>Challenge {html.escape(c.id)}</b>: {html.escape(c.title)} (about {c.minutes} minutes)</p>")


# --- check your understanding ----------------------------------------------


def is_right(q: C.Question, given: Any) -> bool:
    if given is None or given == "":
        return False
    if q.choices is not None:
        return given == q.answer
    value = given if isinstance(given, (int, float)) else parse_number(str(given))
    return value is not None and abs(value - float(q.answer)) <= q.tolerance + 1e-9


class QuestionWidget:
    def __init__(self, n: int, q: C.Question):
        self.q = q
        if q.choices is not None:
            self.input: W.Widget = W.RadioButtons(options=q.choices, value=None, layout=W.Layout(width="auto"))
        else:
            self.input = W.Text(placeholder=f"a number{', in ' + q.unit if q.unit else ''}")
        self.button = W.Button(description="Check")
        self.feedback = W.HTML("")  # empty until answered: the explanation is not in the saved state
        self.button.on_click(lambda _b: self.answer())
        self.widget = W.VBox([W.HTML(f"<b>{n}.</b> {html.escape(q.prompt)}"), self.input, self.button, self.feedback])

    def answer(self, value: Any = None) -> bool:
        if value is not None:
            self.input.value = value
        given = self.input.value
        if given is None or given == "":
            self.feedback.value = "<i>Choose or type an answer first.</i>"
            return False
        right = is_right(self.q, given)
        answer = (
            self.q.answer
            if self.q.choices is not None
            else f"{fmt(float(self.q.answer))}{' ' + self.q.unit if self.q.unit else ''}"
        )
        head = "Right." if right else f"Not quite: the answer is {html.escape(str(answer))}."
        self.feedback.value = f"<p><b>{head}</b> {html.escape(self.q.explanation)}</p>"
        return right


class Quiz(_Shown):
    def __init__(self, module: C.Module):
        self.module = module
        self.questions = [QuestionWidget(i + 1, q) for i, q in enumerate(module.quiz)]
        self.widget = W.VBox([W.HTML("<h3>Check your understanding</h3>")] + [q.widget for q in self.questions])

    def static_html(self) -> str:
        items = []
        for q in self.module.quiz:
            choices = "".join(f"<li>{html.escape(c)}</li>" for c in q.choices or [])
            kind = (
                f"<ul>{choices}</ul>"
                if q.choices
                else f"<br><i>a number{', in ' + html.escape(q.unit) if q.unit else ''}</i>"
            )
            items.append(f"<li>{html.escape(q.prompt)}{kind}</li>")
        return (
            "<p><b>Check your understanding</b> (answer in JupyterLab: each answer shows its explanation)</p>"
            f"<ol>{''.join(items)}</ol>"
        )

    def static_text(self) -> str:
        lines = ["Check your understanding (answer in JupyterLab: each answer shows its explanation)"]
        for i, q in enumerate(self.module.quiz, 1):
            lines.append(f"{i}. {q.prompt}")
            lines += [f"   - {c}" for c in q.choices or []] or [f"   (a number{', in ' + q.unit if q.unit else ''})"]
        return "\n".join(lines)


def quiz(module: str) -> Quiz:
    """The module's questions from course.yml, answered in widgets."""
    return Quiz(_module(module))
