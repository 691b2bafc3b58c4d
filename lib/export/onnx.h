/* ONNX export: a model's network in inference form (batch-norm with its running statistics,
   the add's per-channel lambda, concat, pooling, dense) as an ONNX model (docs/EXPORT.md).
   The input normalisation is inside the graph: the ONNX model takes raw pixels as float32
   0..255, [N, C, H, W], N free, and outputs the logits [N, classes]; or, with test-time
   augmentation, the mean softmax of the image's views (model.h, tta_views), "probabilities"
   [N, classes], as nash's evaluation with that TTA computes it. */
#ifndef NASH_ONNX_H
#define NASH_ONNX_H

#include <stddef.h>

#include "base/err.h"
#include "model/model.h"

#define NASH_ONNX_OPSET 13     /* the default ("ai.onnx") operator set the graph uses */
#define NASH_ONNX_IR_VERSION 7 /* the ONNX IR version that goes with opset 13 */

/* Serialises m's network to an in-memory ONNX model (malloc'd, caller frees), with test-time
   augmentation tta (TTA_NONE: the logits). m's graph must be inferred (model_read does that).
   Errors: an op ONNX export does not cover, weights that are not finite, out of memory. */
int onnx_export_mem(void **buf, size_t *len, const Model *m, Tta tta, NashErr *err);
/* Writes it to path atomically ("-": standard output); errors name the file. */
int onnx_export(const char *path, const Model *m, Tta tta, NashErr *err);

#endif
