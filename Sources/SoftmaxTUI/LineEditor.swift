import SoftmaxCore
import SoftmaxText

/// A key of the line editor, with readline's meaning (its command names in the comments).
public enum EditKey: Hashable, Sendable, CaseIterable {
  /// ←, Ctrl-B (`backward-char`).
  case left
  /// →, Ctrl-F (`forward-char`).
  case right
  /// Home, Ctrl-A (`beginning-of-line`).
  case home
  /// End, Ctrl-E (`end-of-line`).
  case end
  /// Backspace (`backward-delete-char`).
  case backspace
  /// Delete, Ctrl-D (`delete-char`).
  case deleteForward
  /// Ctrl-U (`unix-line-discard`): delete from the start of the line to the cursor.
  case killToStart
  /// Ctrl-K (`kill-line`): delete from the cursor to the end of the line.
  case killToEnd
  /// Ctrl-W, Alt-Backspace (`unix-word-rubout`): delete the word before the cursor, a word being a run of characters
  /// other than spaces and commas (so that in `1000, 1001, 1002` it is one number).
  case deleteWordBackward
}

extension EditField {
  /// The most characters the field's line holds. A number is at most 40 characters; a whole vector fills a
  /// ``TextLine`` (1,024 bytes: about 200 typed logits; longer vectors come from `--logits-file` or `#`).
  public var characterLimit: Int {
    switch self {
    case .vector: TextLine.capacity
    case .classCount: 7
    default: 40
    }
  }

  /// Whether `scalar` may be typed into this field: what can appear in a number (digits, signs, `.`, `e`, `_`, the
  /// letters of `inf` and `nan` and any other letter, so that a typo is named by the parser, `−` and `∞`), plus spaces
  /// and commas in the whole-vector line; only digits in the class count.
  public func accepts(_ scalar: Unicode.Scalar) -> Bool {
    let v = scalar.value
    let digit = v >= 0x30 && v <= 0x39
    if self == .classCount { return digit }
    let letter = (v >= 0x41 && v <= 0x5A) || (v >= 0x61 && v <= 0x7A)
    if digit || letter || scalar == "+" || scalar == "-" || scalar == "." || scalar == "_" { return true }
    if scalar == "−" || scalar == "∞" { return true }
    return self == .vector && (scalar == " " || scalar == ",")
  }
}

/// What an insertion did.
public enum EditInsertion: Equatable, Sendable {
  /// The character is in the line.
  case inserted
  /// The field does not take this character (the line is unchanged).
  case refused
  /// The line is full (the line is unchanged).
  case full
}

extension EditLine {
  /// The column of the cursor: the number of characters before it.
  public var cursorColumn: Int { text.scalarCount(before: cursor) }

  /// Types `scalar` at the cursor; a selected pre-fill is replaced by it. The line holds ASCII only, so that it looks
  /// the same in every terminal: `−` is typed as `-` and `∞` as `inf`. Allocates nothing.
  @discardableResult
  public mutating func insert(_ scalar: Unicode.Scalar) -> EditInsertion {
    guard field.accepts(scalar) else { return .refused }
    if selected {
      text = TextLine()
      cursor = 0
      selected = false
    }
    if scalar == "∞" {
      guard text.scalarCount + 3 <= field.characterLimit else { return .full }
      for s in "inf".unicodeScalars { cursor += text.insert(s, atByte: cursor) }
      return .inserted
    }
    guard text.scalarCount < field.characterLimit else { return .full }
    let length = text.insert(scalar == "−" ? "-" : scalar, atByte: cursor)
    guard length > 0 else { return .full }
    cursor += length
    return .inserted
  }

  /// Inserts pasted text at the cursor (replacing a selected pre-fill): characters the field does not take are
  /// dropped, and so are newlines, except in the whole-vector line, where a newline or tab separates two numbers and
  /// becomes a space. Returns how many characters went in and how many were dropped because the line was full.
  @discardableResult
  public mutating func paste(_ pasted: String) -> (inserted: Int, cut: Int) {
    var inserted = 0
    var cut = 0
    for var scalar in pasted.unicodeScalars {
      if scalar == "\n" || scalar == "\r" || scalar == "\t" {
        guard field == .vector else { continue }
        scalar = " "
      }
      switch insert(scalar) {
      case .inserted: inserted += 1
      case .full: cut += 1
      case .refused: break
      }
    }
    return (inserted, cut)
  }

  /// Applies one editing key. On a selected pre-fill, Backspace and Delete delete it all (as in a selected text
  /// field); every other key ends the selection and then acts from the cursor, which is at the end.
  public mutating func perform(_ key: EditKey) {
    if selected {
      selected = false
      if key == .backspace || key == .deleteForward {
        text = TextLine()
        cursor = 0
        return
      }
    }
    switch key {
    case .left: cursor = text.scalarStart(before: cursor)
    case .right: cursor = text.scalarEnd(after: cursor)
    case .home: cursor = 0
    case .end: cursor = text.utf8Count
    case .backspace:
      let start = text.scalarStart(before: cursor)
      text.removeBytes(start..<cursor)
      cursor = start
    case .deleteForward: text.removeBytes(cursor..<text.scalarEnd(after: cursor))
    case .killToStart:
      text.removeBytes(0..<cursor)
      cursor = 0
    case .killToEnd: text.removeBytes(cursor..<text.utf8Count)
    case .deleteWordBackward:
      // Separators before the cursor, then the word before them (every byte of a separator is ASCII, and a
      // multi-byte scalar's bytes are never a space or a comma).
      func separator(_ b: UInt8) -> Bool { b == UInt8(ascii: " ") || b == UInt8(ascii: ",") }
      var start = cursor
      while start > 0, separator(text.byte(at: start - 1)) { start -= 1 }
      while start > 0, !separator(text.byte(at: start - 1)) { start -= 1 }
      text.removeBytes(start..<cursor)
      cursor = start
    }
  }

  /// The part of the line shown in `width` cells: the first character shown and the cursor's column within them.
  ///
  /// A line that fits (with the cursor after it) is shown whole; a longer one scrolls by half the width at a time, so
  /// that the view stays put while the cursor moves inside it and the cursor is never in the first cell once the line
  /// is scrolled (that cell shows `…`).
  public func window(width: Int) -> (first: Int, cursor: Int) {
    let column = cursorColumn
    guard width > 1, column >= width else { return (0, Swift.min(column, Swift.max(0, width - 1))) }
    let half = Swift.max(1, width / 2)
    let first = ((column - width) / half + 1) * half
    return (first, column - first)
  }

  /// Draws the line into `width` cells at (`x`, `y`): the text in the editing style (a selected pre-fill in the
  /// selection style), the character under the cursor in the cursor style, `…` where the line goes on beyond either
  /// edge; the terminal's cursor is put there too. Allocates nothing.
  public func draw(into buf: inout Buffer, x: Int, y: Int, width: Int, context ctx: RenderContext) {
    guard width > 0 else { return }
    let (first, cursorAt) = window(width: width)
    let total = text.scalarCount
    let textStyle = selected ? ctx.editSelection : ctx.editing
    buf.fill(Rect(x: x, y: y, width: width, height: 1), with: Cell(" ", style: ctx.editing))
    var index = 0
    text.forEachScalar { scalar in
      defer { index += 1 }
      let column = index - first
      guard column >= 0 else { return true }
      guard column < width else { return false }
      buf[x + column, y] = Cell(scalar, style: textStyle)
      return true
    }
    let more: Unicode.Scalar = ctx.unicode ? "…" : "<"
    if first > 0 { buf[x, y] = Cell(more, style: ctx.editing) }
    if first + width < total, cursorAt != width - 1 {
      buf[x + width - 1, y] = Cell(ctx.unicode ? "…" : ">", style: ctx.editing)
    }
    var under = buf[x + cursorAt, y]
    under.style = ctx.editCursor
    buf[x + cursorAt, y] = under
    buf.cursorX = x + cursorAt
    buf.cursorY = y
  }
}

extension AppState {
  /// The whole vector as it was entered, as the `=` line is pre-filled with it: `1000, 1001, 1002` (masked classes
  /// `-inf`), or nil when it does not fit the line.
  func vectorText() -> TextLine? {
    var t = TextLine()
    let logits = lens?.logits ?? problem.logits
    for (i, x) in logits.enumerated() {
      let number = TextLine(compact: x)
      // Leave room to see that it fits: the line is full at its capacity.
      guard t.utf8Count + number.utf8Count + 2 < TextLine.capacity else { return nil }
      if i > 0 { t.append(ascii: ", ") }
      t.append(number)
    }
    return t
  }
}
