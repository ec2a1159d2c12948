import SoftmaxCore

/// Placeholder until the full screen lands.
enum StabilityView {
  static func render(_ state: AppState, _ ev: Evaluation, comparison: PrecisionComparison, into buf: inout Buffer, body: Rect, context ctx: RenderContext) {
    buf.box(body, title: "Stability lab", context: ctx)
  }
}
