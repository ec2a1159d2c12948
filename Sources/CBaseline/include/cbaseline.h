#ifndef CBASELINE_H
#define CBASELINE_H

#include <stdint.h>

/// Plain C scalar baseline for the benchmark: stable softmax + cross-entropy gradient, three passes, one expf per
/// element, storing e^{x-M}, sequential float sum. For each row r: loss[r] = M - x_T + log(sum),
/// gradient = g * (s - e_T).
void cbaseline_fused_f32(const float *logits, intptr_t rows, intptr_t classes, const intptr_t *targets,
                         const float *upstream, float *loss, float *gradient);

#endif
