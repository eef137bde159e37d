"""`model-studio evaluate FILE`: scores of the saved model on the validation data."""

from __future__ import annotations

import argparse

from studio.analysis.evaluation import (
    classify_report,
    format_classification,
    format_regression,
    predicted_classes,
    regression_report,
)
from studio.data import skipped_message
from studio.runs import open_trained


def run(args: argparse.Namespace) -> int:
    from studio.train import predict

    session = open_trained(args.file, args.run)
    model, data, record = session.model, session.data, session.run
    outputs = predict(model, data.val_x, output_activation=model.output_activation)
    targets = data.val_y.numpy()
    print(f"Run {record['id']} ({record.get('status', '?')}), {data.num_val} validation samples of "
          f"{data.info.name}")
    skipped = skipped_message(data.info)
    if skipped:
        print(f"Note: {skipped}")
    if data.info.task == "classification":
        report = classify_report(targets, predicted_classes(outputs), data.info.class_names)
        print(format_classification(report))
    else:
        print(format_regression(regression_report(targets, outputs)))
    return 0
