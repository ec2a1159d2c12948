import SoftmaxCore
import SoftmaxText

/// Lines drawn top to bottom inside a rectangle (a panel's text); lines past the bottom are dropped.
struct PanelText {
  let rect: Rect
  /// The row the next line goes to.
  private(set) var y: Int

  init(_ rect: Rect) {
    self.rect = rect
    y = rect.y
  }

  var isFull: Bool { y >= rect.maxY }

  /// One line, clipped to the panel's width.
  mutating func line(_ text: TextLine, _ style: Style, into buf: inout Buffer) {
    guard !isFull else { return }
    buf.write(text, x: rect.x, y: y, style: style, clip: rect)
    y += 1
  }

  /// One line wrapped at spaces to the panel's width (see ``wrap(_:width:_:)``).
  mutating func wrapped(_ text: TextLine, _ style: Style, into buf: inout Buffer) {
    wrap(text, width: rect.width) { line($0, style, into: &buf) }
  }
}

/// Splits `text` at spaces into lines of at most `width` scalars, continuation lines indented by two, and hands each
/// to `body` (the whole text when it fits, or when the width is too small to wrap in).
func wrap(_ text: TextLine, width: Int, _ body: (TextLine) -> Void) {
  guard let recorder = NumberRecorder.current else { return wrapPieces(text, width: width, body) }
  var pieces: [String] = []
  wrapPieces(text, width: width) {
    pieces.append($0.description)
    body($0)
  }
  recorder.record(line: text.description, pieces: pieces)
}

/// The pieces of ``wrap(_:width:_:)``.
private func wrapPieces(_ text: TextLine, width: Int, _ body: (TextLine) -> Void) {
  guard width > 4, text.scalarCount > width else { return body(text) }
  var current = TextLine()
  var count = 0
  text.withBytes { bytes in
    var start = 0
    for i in 0...bytes.count where i == bytes.count || bytes[i] == UInt8(ascii: " ") {
      let word = start..<i
      start = i + 1
      var w = 0
      for k in word where bytes[k] & 0xC0 != 0x80 { w += 1 }
      if count > 0 && count + 1 + w > width {
        // An equation breaks before an `=`, so that no line starts in the middle of a chain (`1002 = 0.4076` read
        // alone is false): the line's tail from its last ` = ` moves to the next line when that fits.
        let cut = lastEquals(current)
        if let cut, count - cut.cells + 1 + w <= width {
          var head = TextLine()
          head.append(current, bytes: 0..<cut.byte)
          body(head)
          var next: TextLine = "  "
          next.append(current, bytes: (cut.byte + 1)..<current.utf8Count)
          current = next
          count = next.scalarCount
        } else {
          body(current)
          current = "  "
          count = 2
        }
      }
      // A continuation line starts right after its indent.
      let atIndent = count == 2 && current.utf8Count == 2 && current.hasPrefix("  ")
      if count > 0 && !atIndent {
        current.append(ascii: UInt8(ascii: " "))
        count += 1
      }
      current.append(text, bytes: word)
      count += w
    }
  }
  if !current.isEmpty { body(current) }
}

/// The byte offset and cell offset of the last ` = ` in `line` past its first three cells, when what follows it is
/// arithmetic (numbers, operators, `e^{…}`; no words): the place to break an equation. Nil when there is none.
private func lastEquals(_ line: TextLine) -> (byte: Int, cells: Int)? {
  line.withBytes { bytes in
    var found: (Int, Int)?
    var cells = 0
    let space = UInt8(ascii: " ")
    let equals = UInt8(ascii: "=")
    for k in bytes.indices {
      if k + 2 < bytes.count, cells > 3, bytes[k] == space, bytes[k + 1] == equals, bytes[k + 2] == space {
        found = (k, cells)
      }
      if bytes[k] & 0xC0 != 0x80 { cells += 1 }
    }
    guard let (at, _) = found else { return nil }
    // Arithmetic: digits, `.`, `e`, braces, parentheses, `^`, spaces, signs and operators (no words, no `<`), with
    // at least one operator between spaces (` + `, ` × `, …): a lone number (`M = 1002`) is prose, not a chain.
    var hasOperator = false
    var k = at + 3
    while k < bytes.count {
      let b = bytes[k]
      let allowed =
        (b >= 0x30 && b <= 0x39) || b == UInt8(ascii: ".") || b == UInt8(ascii: "e") || b == UInt8(ascii: " ")
        || b == UInt8(ascii: "{") || b == UInt8(ascii: "}") || b == UInt8(ascii: "(") || b == UInt8(ascii: ")")
        || b == UInt8(ascii: "^") || b == UInt8(ascii: "+") || b == UInt8(ascii: "-") || b == UInt8(ascii: "*")
        || b == UInt8(ascii: "/") || b >= 0x80
      if !allowed { return nil }
      if b == UInt8(ascii: " "), k + 2 < bytes.count, bytes[k + 2] == UInt8(ascii: " ") || k + 4 < bytes.count {
        // ` + `, ` / `, ` * ` (one byte) or ` − `, ` × `, ` · ` (two or three bytes) between spaces.
        let next = bytes[k + 1]
        if (next == UInt8(ascii: "+") || next == UInt8(ascii: "/") || next == UInt8(ascii: "*")) && bytes[k + 2] == 0x20
        {
          hasOperator = true
        }
        if next >= 0x80
          && (k + 3 < bytes.count && (bytes[k + 3] == 0x20 || (k + 4 < bytes.count && bytes[k + 4] == 0x20)))
        {
          hasOperator = true
        }
      }
      k += 1
    }
    return hasOperator ? found : nil
  }
}

/// One line of a text-heavy screen: its text (with math symbols, converted by `RenderContext.prose` when drawn), its
/// style, and how far continuation lines are indented when it wraps.
struct ProseLine {
  var text: TextLine
  var style: Style
  var indent: Int

  init(_ text: TextLine, _ style: Style = .plain, indent: Int = 0) {
    self.text = text
    self.style = style
    self.indent = indent
  }

  /// An empty spacer line.
  static let blank = ProseLine("")

  /// The line wrapped at spaces to `width` cells after converting it for `ctx`, each piece handed to `body`. Leading
  /// spaces are kept on the first line; continuation lines are indented by `indent` (at least the leading spaces). A
  /// word longer than the width is cut.
  func forEachWrapped(width: Int, context ctx: RenderContext, _ body: (TextLine) -> Void) {
    guard let recorder = NumberRecorder.current else { return pieces(width: width, context: ctx, body) }
    var pieces: [String] = []
    self.pieces(width: width, context: ctx) {
      pieces.append($0.description)
      body($0)
    }
    recorder.record(line: ctx.prose(text).description, pieces: pieces)
  }

  /// The pieces of ``forEachWrapped(width:context:_:)``.
  private func pieces(width: Int, context ctx: RenderContext, _ body: (TextLine) -> Void) {
    let t = ctx.prose(text)
    guard width > 0 else { return }
    let total = t.scalarCount
    if total <= width { return body(t) }
    // Byte by byte: a space is one byte in UTF-8 and never part of a longer scalar, so words are byte ranges.
    t.withBytes { bytes in
      let space = UInt8(ascii: " ")
      func cells(_ range: Range<Int>) -> Int {
        var n = 0
        for k in range where bytes[k] & 0xC0 != 0x80 { n += 1 }
        return n
      }
      var lead = 0
      while lead < bytes.count, bytes[lead] == space { lead += 1 }
      let hang = Swift.min(Swift.max(indent, lead), width / 2)
      var emitted = 0
      var current = TextLine()
      current.append(" ", count: lead)
      var count = lead
      func flush() {
        current.trimTrailingSpaces()
        body(current)
        emitted += 1
        current = TextLine()
        current.append(" ", count: hang)
        count = hang
      }
      func append(_ range: Range<Int>) {
        current.append(t, bytes: range)
        count += cells(range)
      }
      var k = lead
      while k < bytes.count {
        // The next word and the spaces before it.
        var spaces = 0
        while k + spaces < bytes.count, bytes[k + spaces] == space { spaces += 1 }
        var end = k + spaces
        while end < bytes.count, bytes[end] != space { end += 1 }
        let word = (k + spaces)..<end
        let atStart = count <= hang && emitted > 0 || count == lead && emitted == 0
        if !atStart && count + spaces + cells(word) > width {
          // An equation breaks before its last `=` when the tail fits on the next line, so that no line starts in
          // the middle of a chain.
          if let cut = lastEquals(current), cut.cells > hang + 1,
            hang + (count - cut.cells - 1) + spaces + cells(word) <= width
          {
            var tail = TextLine()
            tail.append(current, bytes: (cut.byte + 1)..<current.utf8Count)
            var head = TextLine()
            head.append(current, bytes: 0..<cut.byte)
            current = head
            flush()
            current.append(tail)
            count += tail.scalarCount
            current.append(" ", count: spaces)
            count += spaces
          } else {
            flush()
          }
          append(word)
        } else {
          if !atStart {
            current.append(" ", count: spaces)
            count += spaces
          }
          append(word)
        }
        // A number is never split across lines: one too wide for the line is left whole, and the buffer's clip
        // replaces it with an ellipsis (a word is cut).
        var numeric = false
        for b in bytes[word] where b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") { numeric = true }
        if numeric && count > width { flush() }
        while count > width {
          let rest = current.dropFirst(scalars: width)
          current = current.prefix(scalars: width)
          flush()
          current.append(rest)
          count += rest.scalarCount
        }
        k = end
      }
      var blank = true
      current.forEachScalar { s in
        blank = s == " "
        return blank
      }
      if !blank { flush() }
    }
  }

  /// How many lines ``forEachWrapped(width:context:_:)`` makes.
  func wrappedCount(width: Int, context ctx: RenderContext) -> Int {
    var n = 0
    forEachWrapped(width: width, context: ctx) { _ in n += 1 }
    return n
  }
}

/// Prose drawn into a rectangle from a scroll offset: every wrapped line is counted (so the caller learns the scroll
/// range) and those inside the window are drawn.
struct ProseWindow {
  let rect: Rect
  let scroll: Int
  let context: RenderContext
  /// Wrapped lines seen so far.
  private(set) var count = 0

  init(_ rect: Rect, scroll: Int = 0, context: RenderContext) {
    self.rect = rect
    self.scroll = scroll
    self.context = context
  }

  /// Wraps `line` and draws the pieces that fall in the window.
  mutating func add(_ line: ProseLine, into buf: inout Buffer) {
    let (rect, scroll) = (rect, scroll)
    var row = count - scroll
    line.forEachWrapped(width: rect.width, context: context) { piece in
      if row >= 0 && row < rect.height {
        buf.write(piece, x: rect.x, y: rect.y + row, style: line.style, clip: rect)
      }
      row += 1
    }
    count = row + scroll
  }
}

extension TextLine {
  /// The longest run of whole words (up to a space) within `width` cells, trailing spaces dropped; the first `width`
  /// cells when the first word alone is wider. For a line cut with `…`: a number is dropped whole, never cut.
  func prefix(wordsFitting width: Int) -> TextLine {
    guard scalarCount > width else { return self }
    let end = withBytes { bytes -> Int? in
      var cells = 0
      var lastSpace: Int?
      for k in bytes.indices {
        if bytes[k] & 0xC0 == 0x80 { continue }
        if cells >= width { break }
        if bytes[k] == UInt8(ascii: " ") { lastSpace = k }
        cells += 1
      }
      if cells >= width, let k = bytes.indices.last, k >= 0 {
        // The cell just past the width starts a new word: the whole prefix fits.
        let next = byteOffset(ofScalar: width)
        if next < bytes.count, bytes[next] == UInt8(ascii: " ") { return next }
      }
      return lastSpace
    }
    guard let end, end > 0 else { return prefix(scalars: width) }
    var t = TextLine()
    t.append(self, bytes: 0..<end)
    t.trimTrailingSpaces()
    return t
  }
}
