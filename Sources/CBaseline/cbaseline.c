#include "cbaseline.h"

#include <math.h>

void cbaseline_fused_f32(const float *logits, intptr_t rows, intptr_t classes, const intptr_t *targets,
                         const float *upstream, float *loss, float *gradient) {
  for (intptr_t r = 0; r < rows; r++) {
    const float *x = logits + r * classes;
    float *out = gradient + r * classes;
    float m = -INFINITY;
    for (intptr_t i = 0; i < classes; i++) {
      if (x[i] > m) m = x[i];
    }
    float sum = 0.0f;
    for (intptr_t i = 0; i < classes; i++) {
      float e = expf(x[i] - m);
      out[i] = e;
      sum += e;
    }
    float g = upstream[r];
    float scale = g / sum;
    for (intptr_t i = 0; i < classes; i++) out[i] *= scale;
    intptr_t t = targets[r];
    out[t] -= g;
    loss[r] = (m - x[t]) + logf(sum);
  }
}
