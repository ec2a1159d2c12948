import SoftmaxCore
import SoftmaxText

/// The worked example behind the Markdown and LaTeX reports: every quantity of one evaluation, and the derivation of
/// the gradient with this example's numbers put into each step.
struct WorkedExample {
  /// Vectors longer than this are shown with an ellipsis.
  static let vectorLimit = 8
  /// Tables with more classes than this are truncated.
  static let tableLimit = 12
  /// The whole Jacobian is shown up to this many classes (wider matrices do not fit a page); above, its target row.
  static let matrixLimit = 6

  let ev: Evaluation
  let p: Problem
  /// The variable the softmax sees: `x` when `τ = 1`, `z` otherwise.
  let v: String

  init(_ ev: Evaluation) {
    self.ev = ev
    p = ev.problem
    v = ev.problem.temperature == 1 ? "x" : "z"
  }

  // MARK: - Numbers in math

  /// A value with 4 significant digits (or `digits`), as LaTeX math: `4.248\times 10^{-18}`, `\infty`, `\mathrm{NaN}`.
  func n(_ x: Double) -> String { WorkedExample.tex(x) }

  static func tex(_ x: Double, digits: Int = 4) -> String {
    if x.isNaN { return #"\mathrm{NaN}"# }
    if x == 0 { return "0" }  // −0 too: its sign says nothing in a handout
    if x.isInfinite { return x < 0 ? #"-\infty"# : #"\infty"# }
    let s = DecimalFormat.significant(x, digits: digits)
    guard let e = s.firstIndex(of: "e") else { return s }
    let mantissa = s[..<e]
    var exponent = String(s[s.index(after: e)...])
    let negative = exponent.hasPrefix("-")
    exponent.removeFirst()
    while exponent.count > 1 && exponent.hasPrefix("0") { exponent.removeFirst() }
    // Braced, so that a superscript after it (`{2.354\times 10^{17}}^2`) can never be a double superscript; a power of
    // a number is written with ``sq(_:)``, which also parenthesises it.
    return #"{\#(mantissa)\times 10^{\#(negative ? "-" : "")\#(exponent)}}"#
  }

  /// A number wrapped in parentheses when negative, for products.
  func pn(_ x: Double) -> String { x.sign == .minus && x != 0 ? "(\(n(x)))" : n(x) }

  /// `x²`: the base parenthesised when it is negative or in scientific form, braced otherwise.
  func sq(_ x: Double) -> String {
    let t = n(x)
    return x.sign == .minus || t.contains(#"\times"#) ? #"\left(\#(t)\right)^2"# : "{\(t)}^2"
  }

  /// A vector `(a, b, …, z)`, eliding the middle of a long one (more than ``vectorLimit`` entries, or entries too
  /// wide together for one line of a handout).
  func vec(_ xs: [Double]) -> String {
    let all = xs.map(n)
    if xs.count <= WorkedExample.vectorLimit && all.map(WorkedExample.width).reduce(0, +) <= 48 {
      return #"\left("# + all.joined(separator: ", ") + #"\right)"#
    }
    let head = xs.prefix(3).map(n)
    let tail = xs.suffix(2).map(n)
    return #"\left("# + (head + [#"\ldots"#] + tail).joined(separator: ", ") + #"\right)"#
  }

  /// Roughly how many characters wide a number from ``tex(_:digits:)`` is when typeset.
  static func width(_ tex: String) -> Int {
    guard let times = tex.firstRange(of: #"\times 10^{"#) else { return tex.count + 1 }
    return tex.distance(from: tex.startIndex, to: times.lowerBound) + 5
      + tex.distance(from: times.upperBound, to: tex.endIndex) / 2
  }

  /// A value rounded into the problem's precision (for the few products the derivation shows that the core does not).
  func r(_ x: Double) -> Double { p.precision.round(x) }

  var s: [Double] { ev.softmax }
  var t: Int { p.target }

  // MARK: - The document

  func document() -> Document {
    var d = Document()
    d.heading(1, "Softmax and cross-entropy: a worked example")
    problem(&d)
    forward(&d)
    derivation(&d)
    step(&d)
    general(&d)
    stability(&d)
    return d
  }

  func problem(_ d: inout Document) {
    d.heading(2, "The problem")
    var items = [
      "Logits: $x = \(vec(p.logits))$, so there are $C = \(p.classes)$ classes, numbered from 0.",
      p.softTarget == nil
        ? "Target class: $T = \(t)$." : "Soft target: $y = \(vec(p.softTarget ?? []))$ (it replaces the target class).",
      "Precision: `\(p.precision.rawValue)`. Every value is computed in this format; the numbers shown are rounded "
        + "to 4 significant digits.",
      "Temperature $\\tau = \(n(p.temperature))$, label smoothing $\\varepsilon = \(n(p.labelSmoothing))$, upstream "
        + "gradient $g = \\partial l/\\partial c = \(n(p.upstream))$, learning rate $\\eta = \(n(p.learningRate))$.",
    ]
    if p.classes > WorkedExample.vectorLimit {
      items.append(
        "With this many classes, vectors show their first and last entries and tables their first and last rows "
          + "and the target.")
    }
    d.bullets(items)
  }

  /// Rows for a per-class table: the selected indices, with `nil` for a run of hidden rows.
  func rows(extra: [Int] = []) -> [(index: Int?, skipped: Int)] {
    RowSelection(total: p.classes, limit: WorkedExample.tableLimit, head: 5, tail: 3, extra: [t] + extra).withGaps
  }

  func gapRow(_ columns: Int, _ skipped: Int) -> [String] {
    ["$\\vdots$"] + Array(repeating: "", count: columns - 2) + ["(\(grouped(skipped)) hidden)"]
  }

  func forward(_ d: inout Document) {
    d.heading(2, "Forward pass")
    if p.temperature == 1 {
      d.paragraph("With $\\tau = 1$ the softmax sees the logits as they are: $z = x$.")
    } else {
      d.paragraph("The softmax sees the scaled logits $z = x/\\tau = \(vec(ev.scaled))$.")
    }
    var table: [[String]] = []
    for row in rows() {
      guard let i = row.index else {
        table.append(gapRow(7, row.skipped))
        continue
      }
      table.append(
        [i == t ? "\(i) (T)" : "\(i)"]
          + [
            p.logits[i], ev.scaled[i], ev.naive.exps[i], s[i], ev.logSoftmax[i], ev.targetDistribution[i],
          ].map { "$\(n($0))$" })
    }
    d.table(["$i$", "$x_i$", "$z_i$", "$e^{z_i}$ (naive)", "$s_i$", "$\\log s_i$", "$y_i$"], table)

    d.heading(3, "Naive softmax")
    let terms =
      p.classes <= 5
      ? ev.scaled.map { "e^{\(n($0))}" }.joined(separator: " + ") + " = "
        + ev.naive.exps.map(n).joined(separator: " + ") + " = "
      : "e^{z_0} + \\cdots + e^{z_{\(p.classes - 1)}} = "
    d.paragraph("The formula as written: exponentiate every $z_j$, add them up, divide.")
    // Where the naive sum is not σ at the digits shown, it gets its own name (the derivation says by how much).
    let exactSigma = ev.scaled.reduce(0.0) { $0 + Double.exp($1) }
    let naiveName = exactSigma.isFinite && n(exactSigma) != n(ev.naive.sum) ? "\\sigma_{\\text{naive}}" : "\\sigma"
    d.math(
      "\\begin{aligned}\n"
        + "\(naiveName) &= \\sum_j e^{z_j} = \(terms)\(n(ev.naive.sum)) \\\\\n"
        + "s_{\(t)} &= \\frac{e^{z_{\(t)}}}{\(naiveName)} = \\frac{\(n(ev.naive.exps[t]))}{\(n(ev.naive.sum))} = "
        + "\(n(ev.naive.probabilities[t]))\n"
        + "\\end{aligned}")
    if ev.overflow.outcome != .fine {
      d.paragraph("In `\(p.precision.rawValue)` this goes wrong here: `\(ev.overflow.diagnosis)`.")
    }

    d.heading(3, "Max-subtracted (stable) softmax")
    d.paragraph(
      "Subtracting a constant from every $z_j$ multiplies numerator and denominator by the same factor, so the "
        + "result is unchanged. With $M = \\max_j z_j$ every exponent is at most 0 (nothing can overflow) and the "
        + "largest term is exactly 1 (the sum cannot be 0).")
    d.math(
      "\\begin{aligned}\n"
        + "M &= \\max_j z_j = \(n(ev.stable.max)) \\quad (\\text{class } \(ev.stable.argmax)) \\\\\n"
        + "z - M &= \(vec(ev.stable.shifted)) \\\\\n"
        + "e^{z - M} &= \(vec(ev.stable.exps)) \\\\\n"
        + "\\textstyle\\sum_j e^{z_j - M} &= \(n(ev.stable.sum)) \\\\\n"
        + "s &= \(vec(s))\n"
        + "\\end{aligned}")

    d.heading(3, "Online (single-pass) softmax")
    d.paragraph(
      "One pass keeps a running maximum $m_j$ and a running sum $d_j$ measured against it; when the maximum grows, "
        + "the sum so far is rescaled (Milakov and Gimelshein, 2018). This is the normaliser FlashAttention uses.")
    d.math(
      "m_j = \\max(m_{j-1}, z_j), \\qquad d_j = d_{j-1}\\, e^{m_{j-1} - m_j} + e^{z_j - m_j}, \\qquad "
        + "s_i = \\frac{e^{z_i - m_{C-1}}}{d_{C-1}}")
    var online: [[String]] = []
    for row in rows() {
      guard let j = row.index else {
        online.append(gapRow(4, row.skipped))
        continue
      }
      online.append(
        [
          "\(j)", "$\(n(ev.scaled[j]))$", "$\(n(ev.onlineRecurrence.runningMax[j]))$",
          "$\(n(ev.onlineRecurrence.runningSum[j]))$",
        ])
    }
    d.table(["$j$", "$z_j$", "$m_j$", "$d_j$"], online)
    d.paragraph(
      "Online result: $s = \(vec(ev.onlineProbabilities))$. Largest difference from the stable softmax: "
        + "$\(n(maxDifference(ev.onlineProbabilities, s)))$; for the naive one: "
        + "$\(n(maxDifference(ev.naive.probabilities, s)))$.")
    logSoftmaxAndLoss(&d)
  }

  /// The forward pass's last part: log-sum-exp, log-softmax and the loss (naive and stable).
  func logSoftmaxAndLoss(_ d: inout Document) {
    d.heading(3, "Log-softmax and the loss")
    let lse = ev.logSumExp
    d.math(
      "\\begin{aligned}\n"
        + "\\operatorname{LSE}(z) &= M + \\log \\sum_j e^{z_j - M} = \(n(lse.max)) + \(n(lse.logSum)) = "
        + "\(n(lse.value)) \\\\\n"
        + "\\log s_i &= z_i - \\operatorname{LSE}(z)\n"
        + "\\end{aligned}")
    d.paragraph("Log-softmax: $\\log s = \(vec(ev.logSoftmax))$.")
    if p.isOneHot {
      // LSE(z) − z_T as two rounded numbers cancels when the loss is tiny; (M − z_T) + log Σ e^{z_j − M} does not.
      let cancels = ev.loss.isFinite && n(r(lse.value - ev.scaled[t])) != n(ev.loss)
      let stableLine =
        cancels
        ? "c &= \\operatorname{LSE}(z) - z_{\(t)} = (M - z_{\(t)}) + \\log \\sum_j e^{z_j - M} = "
          + "\(n(r(lse.max - ev.scaled[t]))) + \(n(lse.logSum)) = \(n(ev.loss)) "
        : "c &= \\operatorname{LSE}(z) - z_{\(t)} = \(n(lse.value)) - \(pn(ev.scaled[t])) = \(n(ev.loss)) "
      d.paragraph("With a one-hot target the loss is the negative log-probability of the target class:")
      d.math(
        "\\begin{aligned}\n"
          + "c &= -\\log s_{\(t)} = -\\log \(pn(ev.naive.probabilities[t])) = \(n(ev.lossNaive)) "
          + "&& \\text{(naive softmax)} \\\\\n"
          + stableLine + "&& \\text{(log-sum-exp)}\n"
          + "\\end{aligned}")
      if cancels {
        d.paragraph(
          "Written as $\\operatorname{LSE}(z) - z_{\(t)} = \(n(lse.value)) - \(pn(ev.scaled[t])) = "
            + "\(n(r(lse.value - ev.scaled[t])))$ the difference would cancel: $\\operatorname{LSE}(z)$ rounded in "
            + "`\(p.precision.rawValue)` has lost the small part it adds to $M$. The split form keeps it.")
      }
    } else {
      d.paragraph("The target is the distribution $y = \(vec(ev.targetDistribution))$, so the loss averages over it:")
      d.math(
        "\\begin{aligned}\n"
          + "c &= -\\sum_i y_i \\log s_i = \(n(ev.lossNaive)) && \\text{(naive softmax)} \\\\\n"
          + "c &= \\sum_i y_i \\left(\\operatorname{LSE}(z) - z_i\\right) = \(n(ev.loss)) && \\text{(log-sum-exp)}\n"
          + "\\end{aligned}")
    }
    if ev.lossFromStableSoftmax != ev.loss && !(ev.lossFromStableSoftmax.isNaN && ev.loss.isNaN) {
      d.paragraph(
        "Taking the logarithm of the stable softmax gives $\(n(ev.lossFromStableSoftmax))$ instead: a probability "
          + "rounded in `\(p.precision.rawValue)` loses what log-sum-exp keeps.")
    }
    if let note = ev.lossNote { d.paragraph("Note: `\(note)`.") }
  }

  /// The terms of a sum over the classes written out with numbers: every class up to 4, else class 0, `keep` and
  /// `\cdots` for the classes between.
  func expandedTerms(keep: [Int], _ term: (Int) -> String) -> [String] {
    let c = p.classes
    if c <= 4 { return (0..<c).map(term) }
    var parts: [String] = []
    var previous = -1
    for i in Set([0] + keep).sorted() {
      if i > previous + 1 { parts.append(#"\cdots"#) }
      parts.append(term(i))
      previous = i
    }
    if previous < c - 1 { parts.append(#"\cdots"#) }
    return parts
  }

  /// Terms joined by `+`, on lines of at most `perLine` terms in an `aligned` block (continuation lines start with
  /// `&\quad +`).
  static func lines(_ terms: [String], perLine: Int = 2) -> String {
    stride(from: 0, to: terms.count, by: perLine).map { start in
      terms[start..<min(terms.count, start + perLine)].joined(separator: " + ")
    }.joined(separator: " \\\\\n&\\quad + ")
  }

  /// `1 − s_i` without cancellation (`Σ_{j≠i} s_j` for the largest class), rounded into the precision.
  func complement(_ i: Int) -> Double { r(ev.complement(i)) }

  /// Whether `1 − s_i` computed directly in the precision shows other digits than the cancellation-free value.
  func complementCancels(_ i: Int) -> Bool { n(r(1 - s[i])) != n(complement(i)) }

  /// `s_i − y_i` without cancellation: `(1 − y_i) − Σ_{j≠i} s_j` when `y_i ≥ 1/2` (as the gradient is computed).
  func difference(_ i: Int) -> Double {
    let y = ev.targetDistribution[i]
    return y >= 0.5 ? r(r(1 - y) - complement(i)) : r(s[i] - y)
  }

  /// Whether `s_i − y_i` computed directly in the precision shows other digits than ``difference(_:)``.
  func differenceCancels(_ i: Int) -> Bool { n(r(s[i] - ev.targetDistribution[i])) != n(difference(i)) }

  /// `∂s_i/∂v_n`, the Jacobian in the variable the softmax sees (the lab's entries carry `1/τ`; this one does not).
  func jz(_ i: Int, _ k: Int) -> Double {
    p.temperature == 1 ? ev.jacobian(i, k) : r(ev.jacobian(i, k) * p.temperature)
  }

  func derivation(_ d: inout Document) {
    derivationIntro(&d)
    let (e, sigma) = normaliserStep(&d)
    quotientRuleStep(&d, e: e, sigma: sigma)
    let dcds = lossStep(&d)
    chainRuleStep(&d, dcds: dcds)
    backpropagationStep(&d)
    checks(&d)
  }

  func derivationIntro(_ d: inout Document) {
    d.heading(2, "The gradient, derived with these numbers")
    if p.temperature == 1 {
      d.paragraph(
        "Each step below states a rule in index notation and then checks it on this example. The target is "
          + "$T = \(t)$; the derivation differentiates with respect to the logits $x$.")
    } else {
      d.paragraph(
        "Each step below states a rule in index notation and then checks it on this example. The softmax sees "
          + "$z = x/\\tau$, so the steps differentiate with respect to $z$; by the chain rule, "
          + "$\\partial/\\partial x_n = (1/\\tau)\\,\\partial/\\partial z_n$.")
    }
  }

  /// Step 1; returns the `e^{v_j}` and `σ` the later steps use: exact in float64, or the shifted ones when `σ` does
  /// not fit float64.
  func normaliserStep(_ d: inout Document) -> (e: [Double], sigma: Double) {
    // σ and the e^{z_j} exact to the digits shown (in float64, over the precision's z_j), or the shifted ones when
    // σ is too large (or too small) for float64. The naive left-to-right sum is shown beside it when it differs.
    let exact = ev.scaled.map { Double.exp($0) }
    let exactSum = exact.reduce(0, +)
    let raw = exactSum.isFinite && exactSum > 0 && exact.allSatisfy(\.isFinite)
    let e = raw ? exact : ev.stable.exps
    let sigma = raw ? exactSum : ev.stable.sum

    d.heading(3, "Step 1: the normaliser")
    d.math(
      "\\begin{aligned}\n"
        + "\\sigma &= \\mathbf{1}_j\\, e^{\(v)_j} \\\\\n"
        + "\\frac{\\partial \\sigma}{\\partial \(v)_n} &= \\mathbf{1}_j \\frac{\\partial e^{\(v)_j}}{\\partial \(v)_n} "
        + "= \\mathbf{1}_j \\frac{\\partial e^{\(v)_j}}{\\partial \(v)_j}\\,\\frac{\\partial \(v)_j}{\\partial \(v)_n} "
        + "= \\mathbf{1}_j\\, e^{\(v)_j}\\, \\delta_{jn} = e^{\(v)_n}\n"
        + "\\end{aligned}")
    let terms = expandedTerms(keep: [t]) { j in "1\\cdot \(pn(e[j]))\\cdot \(j == t ? 1 : 0)" }
    d.paragraph(
      "In index notation an index repeated in a product is summed, and $\\mathbf{1}$ is the vector of ones, so "
        + "$\\mathbf{1}_j\\, e^{\(v)_j} = \\sum_j e^{\(v)_j}$. Differentiating goes through $\(v)_j$: "
        + "$\\partial e^{\(v)_j}/\\partial \(v)_j = e^{\(v)_j}$, and $\\partial \(v)_j/\\partial \(v)_n = \\delta_{jn}$ "
        + "is 1 when $j = n$ and 0 otherwise. So $\\delta_{jn}$ keeps only the term $j = n$ of the sum, and "
        + "$\\mathbf{1}_n = 1$ can be dropped. Here $\\sigma = \(n(sigma))$ and, for $n = \(t)$:")
    d.math(
      "\\begin{aligned}\n"
        + "\\frac{\\partial \\sigma}{\\partial \(v)_{\(t)}} &= \\mathbf{1}_j\\, e^{\(v)_j}\\, \\delta_{j\(t)} \\\\\n"
        + "&= \(WorkedExample.lines(terms, perLine: 3)) \\\\\n"
        + "&= e^{\(v)_{\(t)}} = \(n(e[t]))\n"
        + "\\end{aligned}")
    if raw && p.precision != .float64 {
      d.paragraph(
        "These $e^{\(v)_j}$ and $\\sigma$ are computed in float64, wider than `\(p.precision.rawValue)`, so they are "
          + "exact to the digits shown; every $s_i$ below is $e^{\(v)_i}/\\sigma$ rounded into `\(p.precision.rawValue)`."
      )
    }
    if raw && n(ev.naive.sum) != n(sigma) {
      let naive = ev.naive.sum
      let how: String
      if !naive.isFinite || naive == 0 {
        how = naive == 0 ? "underflows to 0" : "is not finite"
      } else if sigma / naive >= 1.5 {
        how = "is \(DecimalFormat.significant(sigma / naive, digits: 3)) times too small"
      } else if naive / sigma >= 1.5 {
        how = "is \(DecimalFormat.significant(naive / sigma, digits: 3)) times too large"
      } else {
        how = "is off by \(DecimalFormat.significant(abs(naive / sigma - 1) * 100, digits: 2))\\%"
      }
      d.paragraph(
        "The naive left-to-right sum in `\(p.precision.rawValue)` gives $\\sigma_{\\text{naive}} = \(n(naive))$, which "
          + "\(how); the $\\sigma$ used in every step below is $\(n(sigma))$.")
    }
    if !raw {
      d.paragraph(
        (ev.overflow.exponentialsFail
          ? "The raw exponentials fail in `\(p.precision.rawValue)`, so these numbers use the shifted "
          : "The naive sum loses accuracy in `\(p.precision.rawValue)`, so these numbers use the shifted ")
          + "$e^{z_j - M}$ and $\\sum_j e^{z_j - M}$: the common factor $e^M$ cancels in every quotient below.")
    }

    return (e, sigma)
  }

  func quotientRuleStep(_ d: inout Document, e: [Double], sigma: Double) {
    let other = ev.otherClass
    d.heading(3, "Step 2: the quotient rule")
    d.math(
      "\\frac{\\partial s_i}{\\partial \(v)_n} "
        + "= \\frac{1}{\\sigma^2}\\left(\\frac{\\partial e^{\(v)_i}}{\\partial \(v)_n}\\,\\sigma - e^{\(v)_i}\\,"
        + "\\frac{\\partial \\sigma}{\\partial \(v)_n}\\right) "
        + "= \\frac{1}{\\sigma^2}\\left(e^{\(v)_i}\\delta_{in}\\,\\sigma - e^{\(v)_i} e^{\(v)_n}\\right) "
        + "= s_i\\,\\delta_{in} - s_i s_n")
    // σ − e_T = Σ_{j≠T} e_j, a sum of positive terms (no cancellation).
    var rest = 0.0
    for j in e.indices where j != t { rest += e[j] }
    let restShown = r(rest)
    let cancels = complementCancels(t)
    let comp = complement(t)
    let diag = jz(t, t)
    let oneMinus = cancels ? "s_{\(t)}\\sum_{j \\ne \(t)} s_j = " : ""
    var cases =
      "\\begin{aligned}\n"
      + "\\frac{\\partial s_{\(t)}}{\\partial \(v)_{\(t)}} &= "
      + "\\frac{e^{\(v)_{\(t)}}\\,(\\sigma - e^{\(v)_{\(t)}})}{\\sigma^2} "
      + "= \\frac{\(n(e[t]))\\cdot \(n(restShown))}{\(sq(sigma))} \\\\\n"
      + "&= s_{\(t)}(1 - s_{\(t)}) = \(oneMinus)\(n(s[t]))\\cdot \(n(comp)) = \(n(diag))"
    var off = 0.0
    if let o = other {
      off = jz(t, o)
      cases +=
        " \\\\[4pt]\n\\frac{\\partial s_{\(t)}}{\\partial \(v)_{\(o)}} &= "
        + "\\frac{0\\cdot \\sigma - e^{\(v)_{\(t)}} e^{\(v)_{\(o)}}}{\\sigma^2} "
        + "= \\frac{-\(n(e[t]))\\cdot \(pn(e[o]))}{\(sq(sigma))} \\\\\n"
        + "&= -s_{\(t)}\\, s_{\(o)} = -\(n(s[t]))\\cdot \(pn(s[o])) = \(n(off))"
    }
    cases += "\n\\end{aligned}"
    d.paragraph(
      "On the diagonal ($i = n$) this is $s_i(1 - s_i)$; off it ($i \\ne n$) it is $-s_i s_n$. Here "
        + "$\\sigma - e^{\(v)_{\(t)}} = \\sum_{j \\ne \(t)} e^{\(v)_j} = \(n(restShown))$. For $i = \(t)$:")
    d.math(cases)
    if cancels {
      d.paragraph(
        "Computed directly, $1 - s_{\(t)} = 1 - \(n(s[t])) = \(n(r(1 - s[t])))$ in `\(p.precision.rawValue)`: "
          + "$s_{\(t)}$ is so close to 1 that the subtraction cancels its digits. "
          + "$1 - s_{\(t)} = \\sum_{j \\ne \(t)} s_j = \(n(comp))$ adds positive terms and loses nothing, so the "
          + "Jacobian uses it.")
    }
    jacobian(&d)

  }

  /// Step 3; returns `∂c/∂s_i` for every class.
  func lossStep(_ d: inout Document) -> [Double] {
    d.heading(3, "Step 3: the loss as a function of the probabilities")
    let dcds = r(-1 / s[t])
    let y = ev.targetDistribution
    let dcdsAll = s.indices.map { y[$0] == 0 ? 0 : r(-y[$0] / s[$0]) }
    if p.isOneHot {
      d.math(
        "c = -\\log s_T, \\qquad \\frac{\\partial c}{\\partial s_i} = -\\frac{\\partial \\log s_T}{\\partial s_i} "
          + "= -\\frac{1}{s_T}\\,\\delta_{iT}")
      d.paragraph(
        "$T$ is the fixed index of the target class, not an index that is summed over: only $i = T$ gives a "
          + "non-zero derivative. Here $\\partial c/\\partial s_{\(t)} = -1/\(n(s[t])) = \(n(dcds))$, and "
          + "$\\partial c/\\partial s_i = 0$ for every other $i$.")
    } else {
      d.math("c = -\\sum_i y_i \\log s_i, \\qquad \\frac{\\partial c}{\\partial s_i} = -\\frac{y_i}{s_i}")
      d.paragraph("Here $\\partial c/\\partial s = \(vec(dcdsAll))$.")
    }

    return dcdsAll
  }

  func chainRuleStep(_ d: inout Document, dcds dcdsAll: [Double]) {
    let other = ev.otherClass
    let y = ev.targetDistribution
    d.heading(3, "Step 4: the chain rule")
    let shown = [t] + (other.map { [$0] } ?? [])
    // The chain-rule sum Σ_i (∂c/∂s_i)(∂s_i/∂v_k), written out with the numbers of steps 2 and 3.
    func chainSum(_ k: Int) -> String {
      "\\frac{\\partial c}{\\partial \(v)_{\(k)}} &= \\sum_i \\frac{\\partial c}{\\partial s_i}"
        + "\\frac{\\partial s_i}{\\partial \(v)_{\(k)}} \\\\\n&= "
        + WorkedExample.lines(
          expandedTerms(keep: p.isOneHot ? [t] : shown) { i in "\(pn(dcdsAll[i]))\\cdot \(pn(jz(i, k)))" })
    }
    var lines: [String] = []
    // A target class with probability 0 (masked): ∂c/∂s_i = −y_i/s_i is infinite, and the sum with numbers is ∞·0.
    let undefined = s.indices.contains { y[$0] != 0 && s[$0] == 0 }
    if undefined {
      chainSumUndefined(&d, shown)
    } else if p.isOneHot {
      d.math(
        "\\frac{\\partial c}{\\partial \(v)_n} = \\frac{\\partial c}{\\partial s_i}"
          + "\\frac{\\partial s_i}{\\partial \(v)_n} "
          + "= \\left(-\\frac{1}{s_T}\\,\\delta_{iT}\\right)\\left(s_i\\,\\delta_{in} - s_i s_n\\right) "
          + "= -\\frac{1}{s_T}\\left(s_T\\,\\delta_{Tn} - s_T s_n\\right) = s_n - \\delta_{Tn}")
      d.paragraph(
        "The sum over $i$ collapses to its $i = T$ term, because $\\partial c/\\partial s_i = 0$ for every other "
          + "$i$. With the numbers of steps 2 and 3:")
      let targetValue = difference(t)
      lines.append(
        chainSum(t) + " \\\\\n&= \(n(targetValue)) = s_{\(t)} - 1 = "
          + (differenceCancels(t)
            ? "-\\sum_{j \\ne \(t)} s_j = \(n(targetValue))" : "\(n(s[t])) - 1 = \(n(targetValue))"))
      if let o = other {
        lines.append(chainSum(o) + " \\\\\n&= \(n(s[o])) = s_{\(o)} - 0 = \(n(s[o]))")
      }
    } else {
      d.math(
        "\\frac{\\partial c}{\\partial \(v)_n} = \\sum_i \\left(-\\frac{y_i}{s_i}\\right)"
          + "\\left(s_i\\,\\delta_{in} - s_i s_n\\right) = -y_n + s_n \\sum_i y_i = s_n - y_n")
      d.paragraph("Because $\\sum_i y_i = 1$. With the numbers of steps 2 and 3:")
      for k in shown {
        let cancel = differenceCancels(k)
        lines.append(
          chainSum(k) + " \\\\\n&= \(n(difference(k))) = s_{\(k)} - y_{\(k)} = "
            + (cancel
              ? "(1 - y_{\(k)}) - \\sum_{j \\ne \(k)} s_j = \(n(r(1 - y[k]))) - \(n(complement(k)))"
              : "\(n(s[k])) - \(n(y[k]))") + " = \(n(difference(k)))")
      }
    }
    if !lines.isEmpty {
      d.math("\\begin{aligned}\n" + lines.joined(separator: " \\\\[6pt]\n") + "\n\\end{aligned}")
    }
    let cancelling = shown.filter(differenceCancels)
    for k in cancelling {
      if p.isOneHot {
        d.paragraph(
          "Computed directly, $s_{\(k)} - 1 = \(n(s[k])) - 1 = \(n(r(s[k] - 1)))$ in `\(p.precision.rawValue)`: "
            + "$s_{\(k)}$ is so close to 1 that the subtraction cancels its digits. Written as "
            + "$-\\sum_{j \\ne \(k)} s_j$ it loses nothing; that is the value above and the one the gradient uses.")
      } else {
        d.paragraph(
          "Computed directly, $s_{\(k)} - y_{\(k)} = \(n(s[k])) - \(n(y[k])) = \(n(r(s[k] - y[k])))$ in "
            + "`\(p.precision.rawValue)`: the subtraction cancels digits, as $s_{\(k)}$ and $y_{\(k)}$ are both "
            + "close to 1. Written as $(1 - y_{\(k)}) - \\sum_{j \\ne \(k)} s_j$ it loses nothing; that is the value "
            + "above and the one the gradient uses.")
      }
    }
    caseForm(&d)
    d.paragraph("Every logit gets a gradient, not only the target's: the normaliser $\\sigma$ couples them all.")

  }

  func backpropagationStep(_ d: inout Document) {
    d.heading(3, "Step 5: backpropagation")
    let tauPart = p.temperature == 1 ? "" : "\\,/\\,\\tau"
    let yn = p.isOneHot ? "\\delta_{Tn}" : "y_n"
    d.math(
      "\\frac{\\partial l}{\\partial x_n} = \\frac{\\partial l}{\\partial c}\\,\\frac{\\partial c}{\\partial x_n} "
        + "= g\\,(s_n - \(yn))\(tauPart)")
    let tau = p.temperature == 1 ? "" : " / \(n(p.temperature))"
    let targetDifference =
      differenceCancels(t)
      ? "(\(n(difference(t))))" : "(\(n(s[t])) - \(n(ev.targetDistribution[t])))"
    d.paragraph("For $n = \(t)$, and for the whole gradient:")
    d.math(
      "\\begin{aligned}\n"
        + "\\frac{\\partial l}{\\partial x_{\(t)}} &= \(n(p.upstream))\\cdot \(targetDifference)\(tau) = "
        + "\(n(ev.gradient[t])) \\\\\n"
        + "\\nabla_x l &= \(vec(ev.gradient))\n"
        + "\\end{aligned}")
    if p.isOneHot {
      d.paragraph(
        "Its entries sum to $\(n(ev.gradient.reduce(0, +)))$ here, rounding included (exactly 0 in exact "
          + "arithmetic).")
    }

  }

  /// Step 4 when a class with target mass has probability 0 (it is masked): the general form, and why the numbers
  /// cannot go into the sum.
  func chainSumUndefined(_ d: inout Document, _ shown: [Int]) {
    let y = ev.targetDistribution
    let masked = s.indices.filter { y[$0] != 0 && s[$0] == 0 }
    let i = masked[0]
    d.math(
      "\\frac{\\partial c}{\\partial \(v)_n} = \\sum_i \\left(-\\frac{y_i}{s_i}\\right)"
        + "\\left(s_i\\,\\delta_{in} - s_i s_n\\right) = s_n - y_n")
    d.paragraph(
      "Here class \(i) carries target mass but is masked: $s_{\(i)} = 0$, so $\\partial c/\\partial s_{\(i)} = "
        + "-y_{\(i)}/s_{\(i)} = -\\infty$ and its row of the Jacobian is 0; the sum with these numbers would be "
        + "$\\infty \\cdot 0$, which has no value (the loss itself is $+\\infty$). The simplified form has no "
        + "such term and stays finite: "
        + shown.map { "$s_{\($0)} - y_{\($0)} = \(n(s[$0])) - \(n(y[$0])) = \(n(difference($0)))$" }
        .joined(separator: ", ") + ".")
  }

  /// The case form of `∂c/∂v_k`, with the numbers for a few classes.
  func caseForm(_ d: inout Document) {
    let c = p.classes
    let ks = c <= 4 ? Array(0..<c) : Array(Set([t, 0, 1, c - 1]).sorted())
    if p.softTarget != nil {
      d.paragraph(
        "With a soft target there is no case form: every class has its own $y_k$, and "
          + "$\\partial c/\\partial \(v)_k = s_k - y_k$.")
      return
    }
    let (hit, miss) =
      p.labelSmoothing == 0
      ? ("s_k - 1", "s_k") : ("s_k - (1 - \\varepsilon + \\varepsilon/C)", "s_k - \\varepsilon/C")
    d.paragraph(
      "By cases, as the gradient is often written: the target class gets its probability minus "
        + (p.labelSmoothing == 0 ? "1" : "its smoothed target")
        + ", every other class its probability" + (p.labelSmoothing == 0 ? "" : " minus $\\varepsilon/C$") + ":")
    let y = ev.targetDistribution
    let smoothed = p.labelSmoothing != 0
    let numbers = ks.map { k in
      let form: String
      if k == t {
        form =
          differenceCancels(k)
          ? (smoothed
            ? "s_{\(k)} - (1 - \\varepsilon + \\varepsilon/C) = (1 - y_{\(k)}) - \\sum_{j \\ne \(k)} s_j"
            : "s_{\(k)} - 1 = -\\sum_{j \\ne \(k)} s_j")
          : (smoothed
            ? "s_{\(k)} - (1 - \\varepsilon + \\varepsilon/C) = \(n(s[k])) - \(n(y[k]))"
            : "s_{\(k)} - 1 = \(n(s[k])) - 1")
      } else {
        form = smoothed ? "s_{\(k)} - \\varepsilon/C = \(n(s[k])) - \(n(y[k]))" : "s_{\(k)}"
      }
      return "\\frac{\\partial c}{\\partial \(v)_{\(k)}} &= \(form) = \(n(difference(k))) && "
        + (k == t ? "(k = T)" : "(k \\ne T)")
    }
    d.math(
      "\\frac{\\partial c}{\\partial \(v)_k} = \\begin{cases} \(hit) & k = T, \\\\ \(miss) & k \\ne T, "
        + "\\end{cases}")
    d.paragraph(
      "which here is" + (ks.count < c ? " (for some of the \(grouped(c)) classes)" : "") + ":")
    d.math("\\begin{aligned}\n" + numbers.joined(separator: " \\\\\n") + "\n\\end{aligned}")
  }

  /// Step 6: the chain rule and a finite difference against the closed form, by relative error.
  func checks(_ d: inout Document) {
    d.heading(3, "Step 6: three numbers that must agree")
    let eps = p.precision.facts.ulpOfOne
    d.paragraph(
      "The chain rule evaluated term by term in `\(p.precision.rawValue)`, the closed form $g(s_n - y_n)/\\tau$, "
        + "and a central finite difference $g\\,\\bigl(c(x + h e_n) - c(x - h e_n)\\bigr)/2h$ with a step $h$ "
        + "chosen for the precision. Each is compared with the closed form by its relative error "
        + "$|a - \\text{closed}|/|\\text{closed}|$, against a relative tolerance derived from the precision "
        + "($\\varepsilon = \(n(eps))$): for the chain rule a few $\\varepsilon$ times the size of its terms before "
        + "they cancel, for the difference its truncation and rounding error.")
    let other = ev.otherClass
    let classes = ev.checkedClasses + (other.map { ev.checkedClasses.contains($0) ? [] : [$0] } ?? [])
    let checks = classes.map(ev.gradientCheck)
    func agree(_ v: CheckVerdict) -> String {
      switch v {
      case .agrees: "yes"
      case .differs: "**no**"
      case .unresolved: "cannot tell"
      }
    }
    d.table(
      ["$n$", "chain rule", "closed form", "relative error", "relative tolerance", "agree"],
      checks.map { c in
        [
          "\(c.index)", "$\(n(c.chain))$", "$\(n(c.closed))$", "$\(n(c.chainRelativeError))$",
          "$\(n(c.chainRelativeTolerance))$", agree(c.chainVerdict),
        ]
      })
    d.table(
      ["$n$", "finite difference", "$h$", "relative error", "relative tolerance", "agree"],
      checks.map { c in
        guard let fd = c.finite else { return ["\(c.index)", "masked", "", "", "", ""] }
        return [
          "\(c.index)", "$\(n(fd.estimate))$", "$\(n(fd.step))$", "$\(n(fd.relativeError))$",
          "$\(n(fd.relativeTolerance))$", agree(fd.verdict),
        ]
      })
    let disagreements = checks.filter { $0.verdict == .differs }.map(\.index)
    let unresolved = checks.filter { $0.verdict == .unresolved }.map(\.index)
    let y = ev.targetDistribution
    if s.indices.contains(where: { y[$0] != 0 && s[$0] == 0 }) {
      d.paragraph(
        "The target mass is on a masked class, so the loss is $+\\infty$: the chain rule ($\\infty \\cdot 0$) and a "
          + "difference of infinite losses have no value (NaN), and only the closed form does. They cannot agree.")
      return
    }
    func listed(_ k: [Int]) -> String { k.map { "$n = \($0)$" }.joined(separator: ", ") }
    d.paragraph(
      !disagreements.isEmpty
        ? "They do not all agree for \(listed(disagreements)): the table says which of the two comparisons fails."
        : unresolved.isEmpty
          ? "All three agree for every class checked."
          : "Nothing disagrees, but for \(listed(unresolved)) the tolerance \(ev.problem.precision.rawValue) allows is "
            + "at least half the value, too coarse to tell a right gradient from a wrong one.")
  }

  func jacobian(_ d: inout Document) {
    let c = p.classes
    let scale = p.temperature == 1 ? "" : " (the entries include the factor $1/\\tau$)"
    if c <= WorkedExample.matrixLimit {
      let rows = (0..<c).map { i in (0..<c).map { n(ev.jacobian(i, $0)) }.joined(separator: " & ") }
      d.paragraph("The whole Jacobian $J_{in} = \\partial s_i/\\partial x_n$\(scale):")
      d.math("J = \\begin{pmatrix}\n" + rows.joined(separator: " \\\\\n") + "\n\\end{pmatrix}")
    } else {
      d.paragraph(
        "With $C = \(grouped(c))$ the Jacobian has $C^2 = \(grouped(c * c))$ entries, so only its target row "
          + "$J_{\(t)\\cdot} = \\partial s_{\(t)}/\\partial x_\\cdot$ is shown\(scale):")
      d.math("J_{\(t)\\cdot} = \(vec(ev.jacobianRow(t)))")
    }
    if ev.jacobianUsesComplementSum(t) && complementCancels(t) {
      d.paragraph(
        "Its diagonal entry for class \(ev.logSumExp.argmax), the largest, uses $1 - s_i = \\sum_{j \\ne i} s_j$ "
          + "(no cancellation).")
    }
    let rowSum = ev.jacobianRow(t).reduce(0, +)
    d.paragraph(
      "It is symmetric, each row and column sums to 0 (row \(t) sums to $\(n(rowSum))$ here, rounding included), "
        + "and it is singular: the all-ones vector is in its null space, because adding a constant to every logit "
        + "leaves the softmax unchanged.")
  }

  func step(_ d: inout Document) {
    d.heading(2, "One gradient step")
    d.math(
      "\\begin{aligned}\n"
        + "x' &= x - \\eta\\,\\nabla_x l \\\\\n"
        + "&= \(vec(p.logits)) \\\\\n"
        + "&\\quad - \(n(p.learningRate))\\,\(vec(ev.gradient))\n"
        + "\\end{aligned}")
    if let refusal = ev.stepRefusal {
      d.paragraph("The step is refused: `\(refusal)`.")
    } else {
      d.paragraph(
        "gives $x' = \(vec(ev.updatedLogits))$. The loss goes from $\(n(ev.loss))$ to $\(n(ev.updatedLoss))$.")
    }
  }

  func general(_ d: inout Document) {
    d.heading(2, "General forms")
    d.paragraph("With a temperature $\\tau$, label smoothing $\\varepsilon$ or a soft target $y$, the same steps give:")
    d.math(
      "\\begin{aligned}\n"
        + "z_i &= x_i/\\tau, & y_i &= (1 - \\varepsilon)\\,\\delta_{iT} + \\varepsilon/C, & "
        + "c &= -\\sum_i y_i \\log s_i, \\\\\n"
        + "\\frac{\\partial s_i}{\\partial x_n} &= \\frac{s_i\\,\\delta_{in} - s_i s_n}{\\tau}, & "
        + "\\frac{\\partial c}{\\partial s_i} &= -\\frac{y_i}{s_i}, & "
        + "\\frac{\\partial l}{\\partial x_n} &= g\\,\\frac{s_n - y_n}{\\tau}.\n"
        + "\\end{aligned}")
    var active: [String] = []
    if p.temperature != 1 {
      active.append(
        "Temperature $\\tau = \(n(p.temperature))$: $z = \(vec(ev.scaled))$; "
          + (p.temperature > 1 ? "the distribution is flatter" : "the distribution is sharper")
          + " than at $\\tau = 1$, and every derivative in $x$ carries a factor $1/\\tau$.")
    }
    if p.softTarget != nil {
      active.append("Soft target: $y = \(vec(ev.targetDistribution))$ replaces the one-hot target.")
    } else if p.labelSmoothing != 0 {
      active.append(
        "Label smoothing $\\varepsilon = \(n(p.labelSmoothing))$: $y = \(vec(ev.targetDistribution))$; the target "
          + "class gets $1 - \\varepsilon + \\varepsilon/C$ and every other class $\\varepsilon/C$.")
    }
    if p.upstream != 1 {
      active.append("Upstream gradient $g = \(n(p.upstream))$ scales every entry of $\\nabla_x l$.")
    }
    if active.isEmpty {
      d.paragraph("Here $\\tau = 1$, $\\varepsilon = 0$ and $g = 1$, so these reduce to the one-hot forms above.")
    } else {
      d.bullets(active)
    }
  }

  func stability(_ d: inout Document) {
    let o = ev.overflow
    let facts = p.precision.facts
    d.heading(2, "Numerical stability")
    d.paragraph("Naive softmax in `\(p.precision.rawValue)`: **\(o.label)**. `\(o.diagnosis)`.")
    var lists: [String] = []
    func list(_ name: String, _ a: [Int]) {
      guard !a.isEmpty else { return }
      let shown = a.prefix(8).map(String.init).joined(separator: ", ")
      lists.append("\(name): \(shown)\(a.count > 8 ? ", ... (\(grouped(a.count)) in all)" : "").")
    }
    list("Classes whose $e^{z_i}$ overflows", o.overflowing)
    list("Classes whose $e^{z_i}$ underflows to 0", o.underflowing)
    list("Classes whose $e^{z_i}$ is subnormal", o.subnormal)
    if o.sumOverflowsWithFiniteTerms {
      lists.append("Every term is finite, but their sum $\\sigma$ overflows.")
    }
    if o.sumIsZero { lists.append("The sum $\\sigma$ is 0.") }
    if !lists.isEmpty { d.bullets(lists) }
    let finite = ev.scaled.filter(\.isFinite)
    d.paragraph(
      "The thresholds of `\(p.precision.rawValue)`, computed from the format itself. Here the largest $z_i$ is "
        + "$\(n(finite.max() ?? .nan))$ and the smallest finite one $\(n(finite.min() ?? .nan))$.")
    let d6 = { (x: Double) in "$" + WorkedExample.tex(x, digits: 6) + "$" }
    d.table(
      ["quantity", "value"],
      [
        ["significand bits", "\(facts.significandBits)"],
        ["machine epsilon (gap after 1)", d6(facts.ulpOfOne)],
        ["largest finite value", d6(facts.maxFinite)],
        ["$e^z$ overflows above $z =$", d6(facts.expOverflow)],
        ["least normal value", d6(facts.leastNormal)],
        ["$e^z$ is subnormal below $z =$", d6(facts.expSubnormal)],
        ["least subnormal value", d6(facts.leastNonzero)],
        ["$e^z$ rounds to 0 at or below $z =$", d6(facts.expZero)],
      ])
    d.paragraph(
      "The stable softmax subtracts $M$ first, so no exponent is positive and the sum is at least 1; the loss goes "
        + "through log-sum-exp, so it stays finite even where $s_T$ itself rounds to 0. Here the naive loss is "
        + "$\(n(ev.lossNaive))$ and the stable loss $\(n(ev.loss))$.")
  }
}
