import SoftmaxCore

/// Mouse hit-testing against the same layout the views draw.
enum Mouse {
  static func action(for m: MouseEvent, in state: AppState) -> Action? {
    guard state.edit == nil, !state.showHelp, state.screen == .explore,
      state.width >= Frame.minimumWidth, state.height >= Frame.minimumHeight
    else { return state.showHelp && m.kind == .press ? .closeHelp : nil }
    let layout = ExploreLayout(state: state, body: Frame.body(width: state.width, height: state.height))
    // A logit row?
    let rowOffset = m.y - layout.tableFirstY
    if layout.table.contains(x: m.x, y: m.y), rowOffset >= 0, rowOffset < layout.tableRows.count {
      let row = layout.tableRows.lowerBound + rowOffset
      switch m.kind {
      case .press: return .selectRow(row)
      case .wheelUp: return .nudgeRow(row, 1)
      case .wheelDown: return .nudgeRow(row, -1)
      }
    }
    // A Jacobian cell?
    let r = m.y - layout.jacobianFirstY
    let c = m.x >= layout.jacobianFirstX ? (m.x - layout.jacobianFirstX) / layout.cellWidth : -1
    if m.kind == .press, layout.jacobian.contains(x: m.x, y: m.y), r >= 0, r < layout.jacobianRows.count, c >= 0,
      c < layout.jacobianColumns.count
    {
      return .setCursor(i: layout.jacobianRows.lowerBound + r, n: layout.jacobianColumns.lowerBound + c)
    }
    return nil
  }
}
