import SoftmaxCore

/// Placeholder until the full screen lands.
enum DerivationView {
  static func render(_ state: AppState, _ ev: Evaluation, into buf: inout Buffer, body: Rect, context ctx: RenderContext) {
    buf.box(body, title: "Derivation", context: ctx)
  }
}
