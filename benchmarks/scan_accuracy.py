"""Scan accuracy: precision, recall and F2 per entity, vanilla Presidio vs auditor scan, in one run.

    python benchmarks/scan_accuracy.py [--records 3000] [--seed 7] [--json out.json]

Corpus: ``benchmarks/_scan_corpus.py`` (Faker values in en_US/en_GB/de_DE/fr_FR/zh_CN, templates kept
apart from the ones the recognizers were developed on). Matching is by overlap: a detected span counts when
it overlaps a labelled span of the same type (street addresses and Presidio's LOCATION both count as
ADDRESS). Types outside the labelled set are left out of P/R, but any detection in a record without
personal data counts towards the "PII-free records flagged" rate.

Targets (issue 3): overall F2 >= 0.85, CN_RESIDENT_ID recall 1.0, <= 2% of PII-free records flagged.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _scan_corpus import GOLD, Labelled, make_corpus

ALIASES = {"STREET_ADDRESS": "ADDRESS", "LOCATION": "ADDRESS"}
Pred = list[tuple[str, int, int]]


def score(corpus: Sequence[Labelled], predictions: Sequence[Pred]) -> dict[str, dict[str, float]]:
    stats = {name: [0, 0, 0, 0] for name in (*GOLD, "overall")}  # tp_pred, n_pred, tp_gold, n_gold
    for item, pred in zip(corpus, predictions, strict=True):
        pred = [(ALIASES.get(e, e), s, t) for e, s, t in pred if ALIASES.get(e, e) in GOLD]
        for entity, start, end in pred:
            hit = any(g == entity and start < ge and gs < end for g, gs, ge in item.spans)
            for key in (entity, "overall"):
                stats[key][0] += hit
                stats[key][1] += 1
        for entity, start, end in item.spans:
            hit = any(p == entity and start < pe and ps < end for p, ps, pe in pred)
            for key in (entity, "overall"):
                stats[key][2] += hit
                stats[key][3] += 1
    out: dict[str, dict[str, float]] = {}
    for name, (tp_pred, n_pred, tp_gold, n_gold) in stats.items():
        precision = tp_pred / n_pred if n_pred else 1.0
        recall = tp_gold / n_gold if n_gold else 1.0
        f2 = 5 * precision * recall / (4 * precision + recall) if precision + recall else 0.0
        out[name] = {"precision": round(precision, 3), "recall": round(recall, 3), "f2": round(f2, 3),
                     "support": n_gold}
    return out


def flagged_clean(corpus: Sequence[Labelled], predictions: Sequence[Pred]) -> float:
    clean = [pred for item, pred in zip(corpus, predictions, strict=True) if not item.spans]
    return sum(1 for pred in clean if pred) / max(1, len(clean))


def run_auditor(texts: list[str]) -> list[Pred]:
    from auditor.scan.engine import Detector

    detector = Detector()
    out: list[Pred] = []
    for i in range(0, len(texts), 128):
        for result in detector.detect(texts[i:i + 128]):
            out.append([(s.entity, s.start, s.end) for s in result.spans])
    return out


def run_presidio(texts: list[str]) -> list[Pred]:
    from presidio_analyzer import BatchAnalyzerEngine

    from auditor.scan.presidio import build_analyzer

    batch = BatchAnalyzerEngine(analyzer_engine=build_analyzer(vanilla=True))
    results = batch.analyze_iterator(texts, language="en", batch_size=64)
    return [[(r.entity_type, r.start, r.end) for r in rs] for rs in results]


def table(name: str, scores: dict[str, dict[str, float]], flagged: float, seconds: float) -> str:
    lines = [f"\n{name}  ({seconds:.1f}s)", f"{'entity':16} {'P':>6} {'R':>6} {'F2':>6} {'n':>6}"]
    for entity, s in scores.items():
        lines.append(f"{entity:16} {s['precision']:6.3f} {s['recall']:6.3f} {s['f2']:6.3f} {s['support']:6.0f}")
    lines.append(f"PII-free records flagged: {flagged:.1%}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    corpus = make_corpus(args.records, seed=args.seed)
    texts = [c.text for c in corpus]
    report: dict[str, object] = {"records": len(corpus), "seed": args.seed}
    for name, runner in (("presidio-vanilla", run_presidio), ("auditor", run_auditor)):
        started = time.perf_counter()
        predictions = runner(texts)
        seconds = time.perf_counter() - started
        scores = score(corpus, predictions)
        flagged = flagged_clean(corpus, predictions)
        print(table(name, scores, flagged, seconds))
        report[name] = {"scores": scores, "pii_free_flagged": round(flagged, 4), "seconds": round(seconds, 2)}
    ours = report["auditor"]
    assert isinstance(ours, dict)
    overall = ours["scores"]["overall"]["f2"]
    cn_recall = ours["scores"]["CN_RESIDENT_ID"]["recall"]
    print(f"\ntargets: overall F2 {overall:.3f} (>= 0.85: {'ok' if overall >= 0.85 else 'MISSED'}), "
          f"CN_RESIDENT_ID recall {cn_recall:.3f} (1.0: {'ok' if cn_recall == 1.0 else 'MISSED'}), "
          f"PII-free flagged {ours['pii_free_flagged']:.1%} (<= 2%: "
          f"{'ok' if ours['pii_free_flagged'] <= 0.02 else 'MISSED'})")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
