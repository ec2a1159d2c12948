import SoftmaxCore

/// Placeholder until the full screen lands.
enum TourOverlay {
  static func render(step: Int, into buf: inout Buffer, body: Rect, context ctx: RenderContext) {}
}
