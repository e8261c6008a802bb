"""The Best-of-N tasks in lm-eval: data loading, prompts, and the multi-round driver.

lm-eval 0.4.13 runs ONE pass of requests per task and hands tasks no model. A listwise judge
would fit that as it is (one or two prompts per item), but knockout needs later rounds whose
prompts depend on earlier answers, so every generative protocol runs through the bridge's
multi-round mechanism (:mod:`harness_tasks.lm_eval_bridge`, bend 6), the same one the
self-correction tasks use:

1. ``construct_requests`` turns each item into its first-round requests (listwise: its one or two
   prompts; all-pairs: every comparison; knockout: the first round's comparisons), whose contexts
   lm-eval's own ``fewshot_context`` builds, so ``--apply_chat_template``, ``--system_instruction``
   and ``gen_prefix`` apply unchanged; they are multi-round requests of this task's driver;
2. :meth:`BonTask.drive` receives the model lm-eval evaluates with and every item's requests: it
   sends the first round through the model's batched ``generate_until`` (one call for all items),
   and for knockout builds the next round's requests for every item still playing, one batched
   call per round, until every bracket has a winner;
3. it returns one JSON record per item: ``{"selected", "requests", "record"}``: who was shown in
   which order, the raw answer, the parsed choice and how each comparison was decided, and the
   metric record; ``process_results`` is a pure function of it.

``--log_samples`` shows, per item, the first round's prompts (``arguments``) and, as the first
request's response (``resps`` and ``filtered_resps``), that JSON record; the item's other requests
answer ``""`` (their outputs are in the record).

The ``_passk`` tasks set ``repeats: k``: the bridge runs the driver once per trial (independent
samples, each cached apart by ``--generation_cache``), lm-eval's ``take_first_k`` filter hands
``process_results`` all k records, and the task reports pass^k beside the first trial's metrics
(:mod:`harness_tasks.trbench_bon.bon_metrics`). ``--metadata '{"repeats": 8}'`` (or a YAML that
includes the task and sets ``repeats``) changes k; the filter's k and the ``pass_hat_k_<j>``
metrics follow ``repeats`` (:func:`fit_trials`), so the three never disagree.
"""

from __future__ import annotations

import json
import logging
from copy import deepcopy
from typing import Any

import datasets
from lm_eval.api.instance import Instance
from lm_eval.api.task import ConfigurableTask

from harness_tasks.input_boundary import loads_json
from harness_tasks.judge_prompts import check_variant, render_pairwise_prompt
from harness_tasks.lm_eval_bridge import generation_request, multi_round_request, register_driver
from harness_tasks.models.conversation_format import encode_conversation
from harness_tasks.trbench_bon import sources
from harness_tasks.trbench_bon.bon_metrics import (
    BonRecord,
    is_pass_hat_k_metric,
    metrics_for,
    pass_hat_k_metrics,
    trial_outcomes,
)
from harness_tasks.trbench_bon.build import CANDIDATES_FILE
from harness_tasks.trbench_bon.candidates import CandidateFileError, candidate_data_build, read_candidate_file
from harness_tasks.trbench_bon.majority import candidate_groups
from harness_tasks.trbench_bon.selection import (
    Match,
    Selection,
    all_pairs_matches,
    copeland_winner,
    decide_comparison,
    knockout_round,
    listwise_orders,
    match_orders,
    permutation,
    seeded,
    select_listwise,
    select_scalar,
)
from toolrm_templates import get_template


log = logging.getLogger(__name__)

LISTWISE_TEMPLATES = {
    "think": "genrm_bon_listwise_think.jinja",
    "no_think": "genrm_bon_listwise_no_think.jinja",
}
DEFAULT_MAX_GEN_TOKENS = 8192


# ---------------------------------------------------------------- data


def load_bon_dataset(
    n_candidates: int = 8,
    protocol: str = "listwise",
    prompt_variant: str = "think",
    order_seed: int = 0,
    both_orders: bool = True,
    candidates: str | None = None,
    checker: str = "source",
    data_build: str | None = None,
    **_: Any,
) -> dict[str, datasets.Dataset]:
    """Docs for a Best-of-N task: the first ``n`` candidates of every set in the candidate file.

    ``candidates`` (from ``--metadata '{"candidates": "my_sets.parquet"}'``) replaces the shipped
    sets with a user's own, in the layout of :mod:`harness_tasks.trbench_bon.candidates`. Items
    come in a seeded order (the same for every task of one seed). A user's file must come with its
    own ``data_build`` (the error says which), so results name the sets they were computed on and
    the leaderboard never ranks them beside the shipped sets. The keyword names are unusual
    on purpose: lm-eval passes every ``--model_args`` key (``seed=...`` among them) to this loader
    beside the task's own ``dataset_kwargs``, and a shared name would be a TypeError.
    ``checker`` (``--metadata '{"checker": "corrected"}'``) picks the reading the labels use
    (:func:`harness_tasks.trbench_bon.sources.labels_under`); both readings are compared for
    ``checker_disagreement_rate``. Every label a run uses (the first ``n`` of each row) must be the
    source checker's verdict on its candidate, else a :class:`CandidateFileError` naming file, row
    and field, before the first generation (items we cannot re-check keep their labels).
    """
    n, seed = n_candidates, order_seed
    if protocol != "scalar":
        check_variant(prompt_variant)
    path = candidates or CANDIDATES_FILE
    sets = read_candidate_file(path)  # validated first: a malformed file is named by row and field
    docs = []
    for candidate_set in sets:
        where = candidate_set.where
        if len(candidate_set.candidates) < n:
            count = len(candidate_set.candidates)
            raise CandidateFileError(f"{where}: field 'candidates' has {count} entries; the task needs n={n}")
        history = candidate_set.chat_history
        if history is None:
            try:
                history = sources.chat_history(candidate_set.source, candidate_set.item_id)
            except (sources.UnknownItemError, RuntimeError) as error:
                raise CandidateFileError(f"{where}: field 'item_id': {error}") from None
        chosen = candidate_set.candidates[:n]
        try:
            labels, disagreements, compared = sources.labels_under(
                candidate_set.source, candidate_set.item_id, chosen, checker
            )
        except sources.UnknownItemError as error:
            raise CandidateFileError(f"{where}: field 'item_id': {error} (checker={checker!r})") from None
        except sources.LabelContradictsCheckerError as error:
            raise CandidateFileError(f"{where}: field 'candidates[{error.index}].correct' {error}") from None
        docs.append(
            {
                "item_id": candidate_set.item_id,
                "source": candidate_set.source,
                "category": candidate_set.category,
                "chat_history": [dict(m) for m in history],
                "candidates": [c.text for c in chosen],
                "correct": labels,
                "checker": checker,
                "checker_disagreements": disagreements,
                "checker_compared": compared,
                "error_types": [c.error_type or "" for c in chosen],
                "protocol": protocol,
                "prompt_variant": prompt_variant,
                "seed": seed,
                "both_orders": both_orders,
            }
        )
    # after every row is checked (errors naming a row come first)
    actual = candidate_data_build(path, CANDIDATES_FILE)
    if data_build is not None and data_build != actual:
        raise CandidateFileError(
            f"{path} is data build {actual}, but the task metadata declares {data_build}. To evaluate "
            f'your own sets, pass both: --metadata \'{{"candidates": "{path}", "data_build": "{actual}"}}\''
        )
    # a seeded interleaving of sources and categories, so that a `--limit` run sees a mix of both
    seeded(seed, "document-order").shuffle(docs)
    return {"test": datasets.Dataset.from_list(docs)}


# ---------------------------------------------------------------- prompts


def render_listwise_prompt(chat_history: list[dict[str, str]], responses: list[str], variant: str) -> str:
    template = get_template(LISTWISE_TEMPLATES[check_variant(variant)])
    return template.render(chat_history=chat_history, responses=responses)


def request_text(doc: dict) -> str:
    """The judge prompt of one request: ``doc["bon_request"]`` says who is shown in which order."""
    request = doc.get("bon_request") or {
        "kind": "listwise",
        "shown": permutation(len(doc["candidates"]), doc["seed"], doc["item_id"]),
    }
    shown = [doc["candidates"][i] for i in request["shown"]]
    if request["kind"] == "listwise":
        return render_listwise_prompt(doc["chat_history"], shown, doc["prompt_variant"])
    return render_pairwise_prompt(doc["chat_history"], shown[0], shown[1], doc["prompt_variant"])


def scalar_context(doc: dict) -> str:
    return encode_conversation(doc["chat_history"], where=f"Best-of-N item {doc['item_id']}, chat_history")


# ---------------------------------------------------------------- scoring


def _count_tokens(model: Any, text: str) -> int:
    encode = getattr(model, "tok_encode", None)
    if callable(encode):
        try:
            return len(encode(text))
        except Exception:  # a tokenizer that cannot take this text: fall back to words
            pass
    return len(text.split())


def scalar_record(doc: dict, results: list[tuple[float, bool]]) -> dict:
    scores = [float(score) for score, _ in results]
    selected, tie_split = select_scalar(scores, doc["correct"])
    prefix = {}
    m = 2
    while m < len(scores):
        prefix[str(m)] = select_scalar(scores[:m], doc["correct"][:m])[0]
        m *= 2
    return BonRecord(
        doc["item_id"],
        doc["source"],
        doc["category"],
        list(doc["correct"]),
        selected,
        judge_calls=len(scores),
        tie_split=tie_split,
        prefix_selected=prefix,
        checker_disagreements=doc["checker_disagreements"],
        checker_compared=doc["checker_compared"],
        candidate_groups=candidate_groups(doc["candidates"]),
    ).to_record()


def process_results_scalar(doc: dict, results: list[tuple[float, bool]]) -> dict:
    record = scalar_record(doc, results)
    return dict.fromkeys(metrics_for(len(doc["correct"]), "scalar"), record)


REPEATS_SETTING = "repeats"
"""``--metadata`` key that sets the number of trials of a ``_passk`` task."""


def trials_filter(repeats: int) -> dict:
    """lm-eval's ``take_first_k``: ``process_results`` receives every trial's record.

    Named ``none`` like lm-eval's default filter (``take_first``), which it replaces: results keep
    the ``<metric>,none`` keys every reader of our results (leaderboard, rescore) expects.
    """
    return {"name": "none", "filter": [{"function": "take_first_k", "k": repeats}]}


def _as_repeats(value: Any) -> int:
    try:
        repeats = int(value)
    except (TypeError, ValueError):
        repeats = 0
    if repeats < 2 or str(value).strip() != str(repeats):
        raise ValueError(
            f"--metadata {REPEATS_SETTING}={value!r}: a pass^k task needs a whole number of trials >= 2"
        )
    return repeats


def fit_trials(config: dict) -> dict:
    """A task with ``repeats`` > 1 (``--metadata repeats=k`` overriding the YAML's): its filter takes
    the first k responses and its ``pass_hat_k_<j>`` metrics are those of k trials.

    Tasks without repeats ignore the setting (with a warning): one ``--metadata`` serves every task
    of a run, and a plain task's single trial stays what it was.
    """
    declared = int(config.get("repeats") or 1)
    override = (config.get("metadata") or {}).get(REPEATS_SETTING)
    if declared <= 1:
        if override is not None:
            log.warning(
                "%s: has no repeats; --metadata %s is for the _passk tasks",
                config.get("task"),
                REPEATS_SETTING,
            )
        return config
    repeats = declared if override is None else _as_repeats(override)
    metrics = [m for m in config.get("metric_list") or [] if not is_pass_hat_k_metric(m["metric"])]
    metrics += [
        {"metric": name, "aggregation": aggregation, "higher_is_better": higher}
        for name, (aggregation, higher) in pass_hat_k_metrics(repeats).items()
    ]
    return {**config, "repeats": repeats, "filter_list": [trials_filter(repeats)], "metric_list": metrics}


class BonTask(ConfigurableTask):
    """Generative Best-of-N protocols (listwise, two-permutation listwise, knockout, all-pairs)."""

    def __init__(self, config: dict | None = None, **kwargs: Any) -> None:
        config = fit_trials({key: value for key, value in (config or {}).items() if key != "class"})
        super().__init__(config=config, **kwargs)
        self._request_kwargs: dict[str, Any] = {}
        register_driver(self.config.task, self.drive)

    # lm-eval calls this once with the run's prompt settings; later rounds reuse them
    def build_all_requests(self, **kwargs: Any) -> None:
        self._request_kwargs = {
            key: kwargs.get(key)
            for key in ("system_instruction", "apply_chat_template", "fewshot_as_multiturn", "chat_template")
        }
        super().build_all_requests(**kwargs)

    def _context(self, request_doc: dict) -> str:
        settings = self._request_kwargs
        return self.fewshot_context(
            request_doc,
            num_fewshot=0,
            system_instruction=settings.get("system_instruction"),
            apply_chat_template=bool(settings.get("apply_chat_template")),
            fewshot_as_multiturn=bool(settings.get("fewshot_as_multiturn")),
            chat_template=settings.get("chat_template"),
            gen_prefix=self.doc_to_prefix(request_doc),
        )

    def _request_docs(self, doc: dict) -> list[dict]:
        n, seed, item = len(doc["candidates"]), doc["seed"], doc["item_id"]
        protocol = doc["protocol"]
        if protocol in ("listwise", "listwise_2perm"):
            orders = listwise_orders(n, seed, item, protocol == "listwise_2perm")
            return [{**doc, "bon_request": {"kind": "listwise", "shown": order}} for order in orders]
        order = permutation(n, seed, item)
        matches = all_pairs_matches(order) if protocol == "all_pairs" else knockout_round(order)[0]
        return self._match_docs(doc, matches, round_no=1)

    @staticmethod
    def _match_docs(doc: dict, matches: list[Match], round_no: int) -> list[dict]:
        return [
            {
                **doc,
                "bon_request": {
                    "kind": "pair",
                    "shown": list(pair),
                    "match": [m.first, m.second],
                    "round": round_no,
                },
            }
            for m in matches
            for pair in match_orders(m, doc["both_orders"])
        ]

    def construct_requests(self, doc: dict, ctx: Any, **kwargs: Any) -> list[Instance]:
        metadata = kwargs.get("metadata")
        return [
            multi_round_request(
                request_doc,
                (self._context(request_doc), deepcopy(self.config.generation_kwargs)),
                index,
                metadata,
            )
            for index, request_doc in enumerate(self._request_docs(doc))
        ]

    # ---------------------------------------------------------------- the driver

    def drive(self, model: Any, items: list[list[Instance]]) -> list[str]:
        """Every item's selection, round by round through ``model``; one JSON record per item."""
        groups = [
            [generation_request(r.doc, r.args[0], r.args[1], source=r, idx=r.idx) for r in requests]
            for requests in items
        ]
        batch = [instance for group in groups for instance in group]
        for instance, output in zip(batch, model.generate_until(batch), strict=True):
            instance.resps.append(output)
        if not groups:
            return []
        if groups[0][0].doc["protocol"] == "knockout":
            selections = self._run_knockout(groups, model)
        else:
            selections = [self._select_one_round(group, model) for group in groups]
        records = []
        for group, selection in zip(groups, selections, strict=True):
            doc = group[0].doc
            record = BonRecord(
                doc["item_id"],
                doc["source"],
                doc["category"],
                list(doc["correct"]),
                selection.selected,
                invalid_selection=selection.invalid_selection,
                judge_calls=selection.judge_calls,
                comparisons=selection.comparisons,
                gen_tokens=selection.gen_tokens,
                invalid_answers=selection.invalid_answers,
                answered_positions=selection.answered_positions,
                consistent=selection.consistent,
                checker_disagreements=doc["checker_disagreements"],
                checker_compared=doc["checker_compared"],
                candidate_groups=candidate_groups(doc["candidates"]),
            ).to_record()
            records.append(
                json.dumps(
                    {"selected": selection.selected, "requests": selection.log, "record": record},
                    ensure_ascii=False,
                )
            )
        return records

    def _select_one_round(self, group: list[Instance], model: Any) -> Selection:
        doc = group[0].doc
        outputs = [inst.resps[0] for inst in group]
        tokens = sum(_count_tokens(model, text) for text in outputs)
        if doc["protocol"] in ("listwise", "listwise_2perm"):
            orders = [inst.doc["bon_request"]["shown"] for inst in group]
            selection = select_listwise(orders, outputs, doc["seed"], doc["item_id"])
            for entry, output in zip(selection.log, outputs, strict=True):
                entry["output"] = output
            selection.gen_tokens = tokens
            return selection
        # all-pairs voting
        order = permutation(len(doc["candidates"]), doc["seed"], doc["item_id"])
        points = dict.fromkeys(order, 0.0)
        selection = Selection(None, judge_calls=len(group), gen_tokens=tokens)
        per_match = 2 if doc["both_orders"] else 1
        for start in range(0, len(group), per_match):
            chunk = group[start : start + per_match]
            winner, how = self._decide(chunk, selection, seeded(doc["seed"], doc["item_id"], "pair", start))
            if how in ("split", "invalid"):
                first, second = chunk[0].doc["bon_request"]["match"]
                points[first] += 0.5
                points[second] += 0.5
            else:
                points[winner] += 1.0
            selection.comparisons += 1
        selection.selected = copeland_winner(points, order, seeded(doc["seed"], doc["item_id"], "copeland"))
        selection.log.append({"points": {str(k): v for k, v in points.items()}})
        return selection

    @staticmethod
    def _decide(chunk: list[Instance], selection: Selection, rng) -> tuple[int, str]:
        from harness_tasks.trbench_bon.selection import parse_index_choice

        match = Match(*chunk[0].doc["bon_request"]["match"])
        answers = [parse_index_choice(inst.resps[0], 2) for inst in chunk]
        winner, how = decide_comparison(match, answers, rng)
        selection.invalid_answers += sum(a is None for a in answers)
        if how == "invalid":
            selection.invalid_selection = True
        selection.log.append(
            {
                "round": chunk[0].doc["bon_request"].get("round", 1),
                "match": [match.first, match.second],
                "orders": [inst.doc["bon_request"]["shown"] for inst in chunk],
                "outputs": [inst.resps[0] for inst in chunk],
                "answers": answers,
                "winner": winner,
                "decided_by": how,
            }
        )
        return winner, how

    def _run_knockout(self, groups: list[list[Instance]], model: Any) -> list[Selection]:
        selections = [Selection(None) for _ in groups]
        current = groups  # this round's instances per item (first round: lm-eval's own)
        entrants = [
            permutation(len(g[0].doc["candidates"]), g[0].doc["seed"], g[0].doc["item_id"]) for g in groups
        ]
        round_no = 1
        while True:
            next_docs: dict[int, list[dict]] = {}
            for i, group in enumerate(current):
                if not group:
                    continue
                doc = group[0].doc
                selection = selections[i]
                selection.judge_calls += len(group)
                selection.gen_tokens += sum(_count_tokens(model, inst.resps[0]) for inst in group)
                _, bye = knockout_round(entrants[i])
                per_match = 2 if doc["both_orders"] else 1
                winners = []
                for start in range(0, len(group), per_match):
                    chunk = group[start : start + per_match]
                    rng = seeded(doc["seed"], doc["item_id"], "knockout", round_no, start)
                    winners.append(self._decide(chunk, selection, rng)[0])
                    selection.comparisons += 1
                entrants[i] = winners + ([bye] if bye is not None else [])
                if len(entrants[i]) == 1:
                    selection.selected = entrants[i][0]
                else:
                    matches, _ = knockout_round(entrants[i])
                    base = {k: v for k, v in doc.items() if k != "bon_request"}
                    next_docs[i] = self._match_docs(base, matches, round_no + 1)
            if not next_docs:
                return selections
            round_no += 1
            batch: list[Instance] = []
            current = [[] for _ in groups]
            for i, docs in next_docs.items():
                for index, request_doc in enumerate(docs):
                    instance = generation_request(
                        request_doc,
                        self._context(request_doc),
                        deepcopy(self.config.generation_kwargs),
                        source=groups[i][0],
                        idx=index,
                    )
                    batch.append(instance)
                    current[i].append(instance)
            for instance, output in zip(batch, model.generate_until(batch), strict=True):
                instance.resps.append(output)

    def process_results(self, doc: dict, results: list) -> dict:
        """The metric record the driver wrote for this item (``results[0]``, its first request's);
        with repeats, ``results[0]`` holds every trial's: the first trial's record for the plain
        metrics, the trials' outcomes for pass^k."""
        repeats = int(self.config.repeats or 1)
        first = results[0]
        trials = first if isinstance(first, list) else [first]
        if len(trials) != repeats:
            raise RuntimeError(
                f"{self.config.task}: item {doc['item_id']} has {len(trials)} trial(s), not {repeats}"
            )
        records = [loads_json(trial)["record"] for trial in trials]
        outcomes = trial_outcomes(doc["item_id"], records)
        return {
            name: outcomes if is_pass_hat_k_metric(name) else records[0]
            for name in metrics_for(len(doc["correct"]), doc["protocol"], repeats)
        }
