"""The ``vigilante train`` / ``vigilante backtest`` contract: input and output formats, errors, exit codes."""

import csv
import math
import random
from datetime import datetime, timezone

import pytest

from vigilante.cli import main
from vigilante.scorer import Detector
from tests.scorer_data import normal_rows

FEATURES = ("requests_per_second", "errors_per_second")
TRAIN = 200


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "vigilante.yaml"
    path.write_text(
        "scorer:\n  features: [requests_per_second, errors_per_second]\n  n_trees: 8\n  relearn_after_seconds: 0\n"
    )
    return str(path)


@pytest.fixture
def value_config(tmp_path):
    """A configuration naming one column, `value`, as a foreign series has."""
    path = tmp_path / "value.yaml"
    path.write_text("scorer:\n  features: [value]\n")
    return str(path)


def rows_with_spike(n=260):
    rows = normal_rows(n, features=FEATURES)
    for t, v in rows[230:240]:
        v["requests_per_second"] *= 6
    rows[215][1]["errors_per_second"] = None  # a scrape gap
    return rows


def write(path, rows, columns=("timestamp",) + FEATURES, stamp=lambda t: f"{t:.0f}", extra=None):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(list(columns) + (["note"] if extra else []))
        for t, v in rows:
            cells = [stamp(t)] + ["" if v.get(c) is None else repr(v[c]) for c in columns[1:]]
            w.writerow(cells + (["x"] if extra else []))
    return str(path)


def read_out(path):
    with open(path, newline="") as fh:
        return list(csv.reader(fh))


def one_line_error(capsys, argv, *fragments):
    assert main(argv) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    for fragment in fragments:
        assert fragment in err, err
    return err


def test_backtest_writes_timestamp_score_threshold_alert_for_every_row_after_training(tmp_path, config, capsys):
    rows = rows_with_spike()
    src = write(tmp_path / "in.csv", rows, extra=True)  # other columns are ignored
    out = tmp_path / "out.csv"
    assert main(["backtest", src, "--train-rows", str(TRAIN), "--out", str(out), "--config", config]) == 0
    table = read_out(out)
    assert table[0][:4] == ["timestamp", "score", "threshold", "alert"]  # the contract; more columns may follow
    assert len(table) - 1 == len(rows) - TRAIN
    assert [r[0] for r in table[1:]] == [f"{t:.0f}" for t, _ in rows[TRAIN:]]
    assert len({r[2] for r in table[1:]}) == 1 and float(table[1][2]) > 0
    alerts = [int(r[3]) for r in table[1:]]
    assert set(alerts) <= {0, 1}
    assert any(alerts[31:40]) and not any(alerts[:25])
    assert "backtest:" in capsys.readouterr().err


def test_backtest_runs_exactly_the_library_loop(tmp_path, config):
    from vigilante.config import load_config

    rows = rows_with_spike()
    src = write(tmp_path / "in.csv", rows)
    out = tmp_path / "out.csv"
    main(["backtest", src, "--train-rows", str(TRAIN), "--out", str(out), "--config", config])
    detector = Detector.fit(load_config(config).scorer, rows[:TRAIN])
    expected = [(f"{r.score:.6f}", f"{r.threshold:.6f}", str(r.decision))
                for r in (detector.step(t, v) for t, v in rows[TRAIN:])]
    assert [(r[1], r[2], r[3]) for r in read_out(out)[1:]] == expected


def test_iso_times_without_offset_are_utc(tmp_path, config):
    rows = rows_with_spike()
    unix = write(tmp_path / "unix.csv", rows)
    iso = write(tmp_path / "iso.csv", rows, stamp=lambda t: datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"))
    for src, out in ((unix, tmp_path / "a.csv"), (iso, tmp_path / "b.csv")):
        assert main(["backtest", src, "--train-rows", str(TRAIN), "--out", str(out), "--config", config]) == 0
    a, b = read_out(tmp_path / "a.csv"), read_out(tmp_path / "b.csv")
    assert [r[1:] for r in a] == [r[1:] for r in b]
    assert b[1][0] == datetime.fromtimestamp(rows[TRAIN][0], timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def test_train_saves_a_state_the_scorer_can_load(tmp_path, config, capsys):
    src = write(tmp_path / "in.csv", normal_rows(TRAIN, features=FEATURES))
    state = tmp_path / "state"
    assert main(["train", src, "--out", str(state), "--config", config]) == 0
    detector = Detector.load(state)
    assert detector.features == FEATURES and detector.window_size == TRAIN
    assert "threshold" in capsys.readouterr().out


def test_bad_header(tmp_path, config, capsys):
    src = write(tmp_path / "in.csv", normal_rows(5, features=FEATURES), columns=("time",) + FEATURES)
    one_line_error(capsys, ["backtest", src, "--train-rows", "2", "--out", str(tmp_path / "o"), "--config", config], "in.csv:1", "timestamp")


def test_missing_configured_feature(tmp_path, config, capsys):
    src = write(tmp_path / "in.csv", normal_rows(5, features=FEATURES), columns=("timestamp", "requests_per_second"))
    one_line_error(capsys, ["backtest", src, "--train-rows", "2", "--out", str(tmp_path / "o"), "--config", config], "in.csv:1", "'errors_per_second'")


def test_non_numeric_cell(tmp_path, config, capsys):
    rows = normal_rows(100, features=FEATURES)
    rows[41][1]["errors_per_second"] = "lots"
    src = tmp_path / "in.csv"
    with open(src, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(("timestamp",) + FEATURES)
        for t, v in rows:
            w.writerow([f"{t:.0f}", v["requests_per_second"], v["errors_per_second"]])
    one_line_error(capsys, ["backtest", str(src), "--train-rows", "60", "--out", str(tmp_path / "o"), "--config", config],
                   "in.csv:43", "'errors_per_second'", "'lots'")


def test_empty_file(tmp_path, config, capsys):
    src = tmp_path / "in.csv"
    src.write_text("")
    one_line_error(capsys, ["backtest", str(src), "--train-rows", "2", "--out", str(tmp_path / "o"), "--config", config], "empty")


@pytest.mark.parametrize("swap, reason", [(lambda r: (r[0], r[0]), "duplicate timestamp"),
                                          (lambda r: (r[1], r[0]), "earlier than a row before")])
def test_a_row_the_clock_disagrees_with_is_skipped_counted_and_kept_in_line(tmp_path, config, capsys, swap, reason):
    rows = normal_rows(100, features=FEATURES)
    rows[70], rows[71] = swap((rows[70], rows[71]))
    src = write(tmp_path / "in.csv", rows)
    out = tmp_path / "o.csv"
    assert main(["backtest", src, "--train-rows", "60", "--out", str(out), "--config", config]) == 0
    err = capsys.readouterr().err
    assert f"skipped 1 rows the clock disagrees with: 1 {reason} (first: data row 72" in err, err
    table = read_out(out)
    assert table[0] == ["timestamp", "score", "threshold", "alert", "skipped"]
    assert len(table) == 1 + 40  # one OUT row per INPUT row after the training rows
    assert [r[0] for r in table[1:]] == [f"{t:.0f}" for t, _ in rows[60:]]
    skipped = table[1 + 71 - 60]
    assert skipped[4] == reason and skipped[1:4] == table[1 + 70 - 60][1:4]  # what the scorer still exports
    assert all(r[4] == "" for i, r in enumerate(table[1:]) if i != 71 - 60)


def test_train_skips_and_counts_rows_the_clock_disagrees_with(tmp_path, config, capsys):
    rows = normal_rows(260, features=FEATURES)
    rows[100] = rows[99]  # a repeated row, as a daylight-saving hour gives
    src = write(tmp_path / "in.csv", rows)
    assert main(["train", src, "--out", str(tmp_path / "state"), "--config", config]) == 0
    captured = capsys.readouterr()
    assert "skipped 1 rows the clock disagrees with: 1 duplicate timestamp" in captured.err
    assert "trained on 259 rows (260 read)" in captured.out


def test_training_that_holds_a_repeated_or_empty_row_takes_the_next_rows_instead_of_refusing(tmp_path, config, capsys):
    rows = normal_rows(100, features=FEATURES)
    rows[30] = rows[29]  # a repeated timestamp, as a daylight-saving hour gives
    rows[40][1]["errors_per_second"] = None
    src = write(tmp_path / "in.csv", rows)
    out = tmp_path / "o.csv"
    assert main(["backtest", src, "--train-rows", "60", "--out", str(out), "--config", config]) == 0
    err = capsys.readouterr().err
    assert "fewer than 60 usable rows; trained on the first 62" in err, err
    table = read_out(out)
    assert len(table) == 1 + 40  # still one OUT row per INPUT row after --train-rows
    assert [r[3:] for r in table[1:3]] == [["0", "training"]] * 2
    assert all(r[4] != "training" for r in table[3:])


def test_ragged_row(tmp_path, config, capsys):
    src = tmp_path / "in.csv"
    src.write_text("timestamp,requests_per_second,errors_per_second\n1,2,3\n16,2\n")
    one_line_error(capsys, ["backtest", str(src), "--train-rows", "1", "--out", str(tmp_path / "o"), "--config", config], "in.csv:3", "cells")


def test_bad_timestamp(tmp_path, config, capsys):
    src = tmp_path / "in.csv"
    src.write_text("timestamp,requests_per_second,errors_per_second\nyesterday,2,3\n")
    one_line_error(capsys, ["backtest", str(src), "--train-rows", "1", "--out", str(tmp_path / "o"), "--config", config], "in.csv:2", "yesterday")


def test_too_few_rows_to_train(tmp_path, config, capsys):
    src = write(tmp_path / "in.csv", normal_rows(30, features=FEATURES))
    one_line_error(capsys, ["backtest", src, "--train-rows", "20", "--out", str(tmp_path / "o"), "--config", config], "at least")
    one_line_error(capsys, ["backtest", src, "--train-rows", "40", "--out", str(tmp_path / "o"), "--config", config], "only 30 rows")


def test_a_failed_backtest_leaves_no_output(tmp_path, config, capsys):
    src = write(tmp_path / "in.csv", normal_rows(30, features=FEATURES))
    main(["backtest", src, "--train-rows", "20", "--out", str(tmp_path / "o.csv"), "--config", config])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "vigilante.yaml"]


def test_a_byte_order_mark_before_the_header_is_accepted(tmp_path, config):
    src = tmp_path / "in.csv"
    write(src, normal_rows(260, features=FEATURES))
    src.write_bytes(b"\xef\xbb\xbf" + src.read_bytes())  # what spreadsheet programs write
    assert main(["backtest", str(src), "--train-rows", str(TRAIN), "--out", str(tmp_path / "o.csv"), "--config", config]) == 0
    assert len(read_out(tmp_path / "o.csv")) == 260 - TRAIN + 1


@pytest.mark.parametrize("change, fragment", [
    (lambda t: f"{t * 1000:.0f}", "it looks like milliseconds"),  # from row 100 on: a switch of unit
    (lambda t: "1e308", "not a plausible time"),
    (lambda t: "-5", "not a plausible time"),
])
def test_a_unit_switch_or_an_implausible_time_is_an_error_on_its_own_line(tmp_path, config, capsys, change, fragment):
    src = tmp_path / "in.csv"
    with open(src, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["timestamp", *FEATURES])
        for i, (t, v) in enumerate(normal_rows(260, features=FEATURES)):
            stamp = 1_700_000_000 + t
            w.writerow([change(stamp) if i >= 100 else f"{stamp:.0f}", *(repr(v[f]) for f in FEATURES)])
    # Row 100 is line 102 (the header is line 1): the error names it, not the row after.
    one_line_error(capsys, ["backtest", str(src), "--train-rows", "50", "--out", str(tmp_path / "o"),
                            "--config", config], "in.csv:102:", fragment)


def test_a_foreign_series_with_irregular_rows_gaps_repeats_and_flat_stretches_backtests(tmp_path, capsys, value_config):
    # One column named `value`, rows about a minute apart with gaps of up to 50 rows, a
    # repeated row, a row from the past and a flat stretch: nothing here is our generator's.
    rng = random.Random(4)
    lines, t, flat = ["timestamp,value"], 1_700_000_000, set()
    for i in range(500):
        t += 60 if rng.random() > 0.05 else 60 * rng.randint(2, 50)
        value = 7.0 if 300 <= i < 360 else 100 + 10 * math.sin(i / 30) + rng.gauss(0, 1)
        lines.append(f"{t},{value:.3f}")
        if value == 7.0:
            flat.add(str(t))
        if i == 200:
            lines.append(lines[-1])
        if i == 250:
            lines.append(f"{t - 30},{value:.3f}")
    src = tmp_path / "foreign.csv"
    src.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.csv"
    assert main(["backtest", str(src), "--train-rows", "150", "--out", str(out), "--config", value_config]) == 0
    assert "skipped 2 rows the clock disagrees with" in capsys.readouterr().err
    table = read_out(out)
    assert len(table) - 1 == len(lines) - 1 - 150
    scores = [float(r[1]) for r in table[1:]]
    assert all(math.isfinite(s) and s >= 0 for s in scores)
    alerts = [int(r[3]) for r in table[1:]]
    assert any(a for a, r in zip(alerts, table[1:]) if r[0] in flat), "a level collapsing to a flat 7 is an incident"


def test_at_one_minute_rows_one_scrape_reading_zero_is_no_alert_and_three_are(tmp_path, config):
    # The shipped hold (60 s) is one row here: a counter reset's single zero must not page on its own.
    rows = [(4 * t, v) for t, v in normal_rows(300, features=FEATURES)]  # rows 60 s apart
    rows[230][1]["requests_per_second"] = 0.0
    for _, v in rows[260:263]:
        v["requests_per_second"] = 0.0
    src = write(tmp_path / "in.csv", rows)
    out = tmp_path / "out.csv"
    assert main(["backtest", src, "--train-rows", str(TRAIN), "--out", str(out), "--config", config]) == 0
    table = read_out(out)[1:]
    alerts = [int(r[3]) for r in table]
    assert float(table[30][1]) > float(table[30][2]), "the single zero scores above the threshold"
    assert not any(alerts[:60]) and any(alerts[60:64])


@pytest.mark.parametrize("spacing, single_row_alerts", [(60, False), (3600, True)])
def test_one_row_of_one_feature_alerts_only_where_a_row_is_more_than_a_scrape(tmp_path, value_config, spacing,
                                                                              single_row_alerts):
    # A count that was 0 all through training: one row reading 1 is one scrape's worth at 1-minute
    # rows (no page), an hour's at hourly rows (a page, which ends on the second row below the
    # threshold); two rows in a row page either way.
    values = [0.0] * 400
    values[330] = 1.0
    values[360] = values[361] = 1.0
    src = write(tmp_path / "in.csv", [(1_700_000_000 + i * spacing, {"value": v}) for i, v in enumerate(values)],
                columns=("timestamp", "value"))
    out = tmp_path / "out.csv"
    assert main(["backtest", src, "--train-rows", "300", "--out", str(out), "--config", value_config]) == 0
    table = read_out(out)[1:]
    alerts = [int(r[3]) for r in table]
    assert float(table[30][1]) > float(table[30][2]), "the single 1 scores above the threshold"
    assert bool(alerts[30]) == bool(alerts[31]) == single_row_alerts
    assert alerts[61] == 1 and not any(alerts[:30]) and not any(alerts[32:60])
