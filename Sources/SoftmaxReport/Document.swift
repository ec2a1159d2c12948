/// A small document model rendered both as Markdown and as LaTeX, so the two formats cannot drift apart.
///
/// Inline text uses `$…$` for math (written in LaTeX), backticks for literal text such as diagnoses and `**…**` for
/// bold. Outside math,
/// text is plain: the LaTeX renderer escapes it and spells out the few Unicode symbols the core's messages use.
struct Document {
  enum Block {
    /// A section heading; level 1 is the title.
    case heading(Int, String)
    case paragraph(String)
    /// Displayed math, LaTeX source without delimiters (an `aligned` environment is fine).
    case math(String)
    case bullets([String])
    /// A right-aligned table; cells are inline text.
    case table(header: [String], rows: [[String]])
  }

  var blocks: [Block] = []

  mutating func heading(_ level: Int, _ text: String) { blocks.append(.heading(level, text)) }
  mutating func paragraph(_ text: String) { blocks.append(.paragraph(text)) }
  mutating func math(_ tex: String) { blocks.append(.math(tex)) }
  mutating func bullets(_ items: [String]) { blocks.append(.bullets(items)) }
  mutating func table(_ header: [String], _ rows: [[String]]) { blocks.append(.table(header: header, rows: rows)) }

  // MARK: - Markdown

  func markdown() -> String {
    var out: [String] = []
    for block in blocks {
      switch block {
      case .heading(let level, let text):
        out.append(String(repeating: "#", count: level) + " " + text)
      case .paragraph(let text):
        out.append(text)
      case .math(let tex):
        out.append("$$\n" + tex + "\n$$")
      case .bullets(let items):
        out.append(items.map { "- " + $0 }.joined(separator: "\n"))
      case .table(let header, let rows):
        var lines = ["| " + header.joined(separator: " | ") + " |"]
        lines.append("|" + String(repeating: "---:|", count: header.count))
        for row in rows {
          lines.append("| " + row.map { $0.replacingPipes() }.joined(separator: " | ") + " |")
        }
        out.append(lines.joined(separator: "\n"))
      }
    }
    return out.joined(separator: "\n\n") + "\n"
  }

  // MARK: - LaTeX

  func latex(title: String) -> String {
    var out = [
      #"\documentclass[11pt]{article}"#,
      #"\usepackage[utf8]{inputenc}"#,
      #"\usepackage[T1]{fontenc}"#,
      // Latin Modern: scalable Type 1 fonts in T1 encoding (without it pdflatex renders bitmap EC fonts with
      // METAFONT on first use). In Debian's texlive-latex-base, like geometry and amsmath; amssymb's fonts are in
      // texlive-base.
      #"\usepackage{lmodern}"#,
      #"\usepackage[a4paper,margin=2cm]{geometry}"#,
      #"\usepackage{amsmath,amssymb}"#,
      #"\setcounter{MaxMatrixCols}{20}"#,
      #"\allowdisplaybreaks"#,
      #"\setlength{\parindent}{0pt}"#,
      #"\setlength{\parskip}{0.6em}"#,
      // Lets a paragraph with a long unbreakable piece (a diagnosis in typewriter type) stretch its spaces instead
      // of running into the margin.
      #"\setlength{\emergencystretch}{3em}"#,
      #"\begin{document}"#,
    ]
    for block in blocks {
      switch block {
      case .heading(let level, let text):
        if level == 1 {
          out.append(#"\section*{"# + Document.inline(text) + "}")
        } else {
          out.append((level == 2 ? #"\subsection*{"# : #"\subsubsection*{"#) + Document.inline(text) + "}")
        }
      case .paragraph(let text):
        out.append(Document.inline(text) + "\n")
      case .math(let tex):
        out.append(#"\["# + "\n" + tex + "\n" + #"\]"#)
      case .bullets(let items):
        out.append(#"\begin{itemize}"#)
        out += items.map { #"  \item "# + Document.inline($0) }
        out.append(#"\end{itemize}"#)
      case .table(let header, let rows):
        out.append(#"\begin{center}"#)
        out.append(#"\begin{tabular}{"# + String(repeating: "r", count: header.count) + "}")
        out.append(header.map(Document.inline).joined(separator: " & ") + #" \\ \hline"#)
        for row in rows { out.append(row.map(Document.inline).joined(separator: " & ") + #" \\"#) }
        out.append(#"\end{tabular}"#)
        out.append(#"\end{center}"#)
      }
    }
    out.append(#"\end{document}"#)
    return out.joined(separator: "\n") + "\n"
  }

  /// Inline text to LaTeX: `$…$` passes through, backtick spans become `\texttt{…}`, `**…**` becomes `\textbf{…}`,
  /// the rest is escaped.
  static func inline(_ text: String) -> String {
    var out = ""
    var inMath = false
    var inCode = false
    var inBold = false
    var code = ""
    let chars = Array(text)
    var k = 0
    while k < chars.count {
      let ch = chars[k]
      k += 1
      if inCode {
        if ch == "`" {
          out += Document.typewriter(code)
          code = ""
          inCode = false
        } else {
          code.append(ch)
        }
      } else if ch == "$" {
        inMath.toggle()
        out.append(ch)
      } else if inMath {
        out.append(ch)
      } else if ch == "`" {
        inCode = true
      } else if ch == "*" && k < chars.count && chars[k] == "*" {
        k += 1
        out += inBold ? "}" : #"\textbf{"#
        inBold.toggle()
      } else {
        out += escape(String(ch))
      }
    }
    if inCode { out += Document.typewriter(code) }
    if inBold { out += "}" }
    return out
  }

  /// A code span in typewriter type, a `\texttt` per word: the spaces between are the paragraph's own, which stretch
  /// (typewriter spaces do not), so a long diagnosis can be set without running into the margin.
  static func typewriter(_ code: String) -> String {
    code.split(separator: " ", omittingEmptySubsequences: false)
      .map { $0.isEmpty ? "" : #"\texttt{"# + escape(String($0)) + "}" }
      .joined(separator: " ")
  }

  /// Plain text made safe for LaTeX text mode.
  static func escape(_ text: String) -> String {
    var out = ""
    for ch in text {
      switch ch {
      case "\\": out += #"\textbackslash{}"#
      case "{", "}", "%", "&", "#", "_", "$": out += "\\" + String(ch)
      case "^": out += #"\^{}"#
      case "~": out += #"\textasciitilde{}"#
      case "<": out += #"\textless{}"#
      case ">": out += #"\textgreater{}"#
      case "|": out += #"\textbar{}"#
      case "−": out += "-"
      case "—": out += "---"
      case "–": out += "--"
      case "…": out += #"\ldots{}"#
      case "’": out += "'"
      default:
        if let symbol = mathSymbols[ch] {
          out += "$" + symbol + "$"
        } else {
          out.append(ch)
        }
      }
    }
    return out
  }

  /// Unicode symbols of the core's messages, as math-mode LaTeX.
  static let mathSymbols: [Character: String] = [
    "σ": #"\sigma"#, "τ": #"\tau"#, "ε": #"\varepsilon"#, "η": #"\eta"#, "δ": #"\delta"#, "Σ": #"\Sigma"#,
    "∂": #"\partial"#, "·": #"\cdot"#, "×": #"\times"#, "≤": #"\le"#, "≥": #"\ge"#, "≈": #"\approx"#,
    "≠": #"\ne"#, "∞": #"\infty"#, "→": #"\to"#, "⋮": #"\vdots"#, "✓": #"\checkmark"#, "✗": #"\times"#,
    "∈": #"\in"#, "μ": #"\mu"#,
  ]
}

extension String {
  /// A table cell with `|` escaped for Markdown (outside `$…$` too, since some renderers split there first).
  fileprivate func replacingPipes() -> String {
    var out = ""
    for ch in self {
      if ch == "|" { out += "\\|" } else { out.append(ch) }
    }
    return out
  }
}
