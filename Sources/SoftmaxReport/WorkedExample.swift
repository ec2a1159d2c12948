import SoftmaxCore

/// The worked example behind the Markdown and LaTeX reports: every quantity of one evaluation, and the derivation of
/// the gradient with this example's numbers put into each step.
struct WorkedExample {
  /// Vectors longer than this are shown with an ellipsis.
  static let vectorLimit = 8
  /// Tables and matrices with more classes than this are truncated.
  static let tableLimit = 12

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
    if x.isInfinite { return x < 0 ? #"-\infty"# : #"\infty"# }
    let s = DecimalFormat.significant(x, digits: digits)
    guard let e = s.firstIndex(of: "e") else { return s }
    let mantissa = s[..<e]
    var exponent = String(s[s.index(after: e)...])
    let negative = exponent.hasPrefix("-")
    exponent.removeFirst()
    while exponent.count > 1 && exponent.hasPrefix("0") { exponent.removeFirst() }
    return #"\#(mantissa)\times 10^{\#(negative ? "-" : "")\#(exponent)}"#
  }

  /// A number wrapped in parentheses when negative, for products.
  func pn(_ x: Double) -> String { x.sign == .minus ? "(\(n(x)))" : n(x) }

  /// A vector `(a, b, …, z)`, eliding the middle of a long one.
  func vec(_ xs: [Double]) -> String {
    if xs.count <= WorkedExample.vectorLimit {
      return #"\left("# + xs.map(n).joined(separator: ", ") + #"\right)"#
    }
    let head = xs.prefix(4).map(n)
    let tail = xs.suffix(2).map(n)
    return #"\left("# + (head + [#"\ldots"#] + tail).joined(separator: ", ") + #"\right)"#
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
    d.math(
      "\\sigma = \\sum_j e^{z_j} = \(terms)\(n(ev.naive.sum)), \\qquad "
        + "s_{\(t)} = \\frac{e^{z_{\(t)}}}{\\sigma} = \\frac{\(n(ev.naive.exps[t]))}{\(n(ev.naive.sum))} = "
        + "\(n(ev.naive.probabilities[t]))")
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
        ["\(j)", "$\(n(ev.scaled[j]))$", "$\(n(ev.online.runningMax[j]))$", "$\(n(ev.online.runningSum[j]))$"])
    }
    d.table(["$j$", "$z_j$", "$m_j$", "$d_j$"], online)
    d.paragraph(
      "Online result: $s = \(vec(ev.online.probabilities))$. Largest difference from the stable softmax: "
        + "$\(n(maxDifference(ev.online.probabilities, s)))$; for the naive one: "
        + "$\(n(maxDifference(ev.naive.probabilities, s)))$.")

    d.heading(3, "Log-softmax and the loss")
    let lse = ev.logSumExp
    d.math(
      "\\operatorname{LSE}(z) = M + \\log \\sum_j e^{z_j - M} = \(n(lse.max)) + \(n(lse.logSum)) = \(n(lse.value)), "
        + "\\qquad \\log s_i = z_i - \\operatorname{LSE}(z)")
    d.paragraph("Log-softmax: $\\log s = \(vec(ev.logSoftmax))$.")
    if p.isOneHot {
      d.paragraph("With a one-hot target the loss is the negative log-probability of the target class:")
      d.math(
        "\\begin{aligned}\n"
          + "c &= -\\log s_{\(t)} = -\\log \(pn(ev.naive.probabilities[t])) = \(n(ev.lossNaive)) "
          + "&& \\text{(naive softmax)} \\\\\n"
          + "c &= \\operatorname{LSE}(z) - z_{\(t)} = \(n(lse.value)) - \(pn(ev.scaled[t])) = \(n(ev.loss)) "
          + "&& \\text{(log-sum-exp)}\n"
          + "\\end{aligned}")
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

  func derivation(_ d: inout Document) {
    d.heading(2, "The gradient, derived with these numbers")
    if p.temperature == 1 {
      d.paragraph(
        "Each step below states a rule and then checks it on this example. The target is $T = \(t)$; the "
          + "derivation differentiates with respect to the logits $x$.")
    } else {
      d.paragraph(
        "Each step below states a rule and then checks it on this example. The softmax sees $z = x/\\tau$, so the "
          + "steps differentiate with respect to $z$; by the chain rule, "
          + "$\\partial/\\partial x_n = (1/\\tau)\\,\\partial/\\partial z_n$.")
    }
    // The raw exponentials, or the shifted ones when the raw ones fail in this precision.
    let raw = ev.overflow.outcome == .fine
    let e = raw ? ev.naive.exps : ev.stable.exps
    let sigma = raw ? ev.naive.sum : ev.stable.sum
    let other = ev.otherClass

    d.heading(3, "Step 1: the normaliser")
    d.math(
      "\\sigma = \\sum_j e^{\(v)_j}, \\qquad \\frac{\\partial \\sigma}{\\partial \(v)_n} "
        + "= \\sum_j e^{\(v)_j}\\,\\delta_{jn} = e^{\(v)_n}")
    d.paragraph(
      "Only the term $j = n$ of the sum depends on $\(v)_n$. Here $\\sigma = \(n(sigma))$ and, for $n = \(t)$, "
        + "$\\partial\\sigma/\\partial \(v)_{\(t)} = e^{\(v)_{\(t)}} = \(n(e[t]))$."
        + (raw
          ? ""
          : (ev.overflow.exponentialsFail
            ? " (The raw exponentials fail in `\(p.precision.rawValue)`, so these numbers use the shifted "
            : " (The naive sum loses accuracy in `\(p.precision.rawValue)`, so these numbers use the shifted ")
            + "$e^{z_j - M}$ and $\\sum_j e^{z_j - M}$: the common factor $e^M$ cancels in every quotient below.)"))

    d.heading(3, "Step 2: the quotient rule")
    d.math(
      "\\frac{\\partial s_i}{\\partial \(v)_n} "
        + "= \\frac{\\frac{\\partial e^{\(v)_i}}{\\partial \(v)_n}\\,\\sigma - e^{\(v)_i}\\,"
        + "\\frac{\\partial \\sigma}{\\partial \(v)_n}}{\\sigma^2} "
        + "= \\frac{e^{\(v)_i}\\delta_{in}\\,\\sigma - e^{\(v)_i} e^{\(v)_n}}{\\sigma^2} "
        + "= s_i\\,\\delta_{in} - s_i s_n")
    let diag = r(r(1 - s[t]) * s[t])
    var cases =
      "\\begin{aligned}\n"
      + "\\frac{\\partial s_{\(t)}}{\\partial \(v)_{\(t)}} &= "
      + "\\frac{\(n(e[t]))\\cdot \(n(sigma)) - \(n(e[t]))\\cdot \(n(e[t]))}{\(n(sigma))^2} "
      + "= s_{\(t)}(1 - s_{\(t)}) = \(n(s[t]))\\,(1 - \(n(s[t]))) = \(n(diag))"
    var off = 0.0
    if let o = other {
      off = r(-(s[t] * s[o]))
      cases +=
        " \\\\\n\\frac{\\partial s_{\(t)}}{\\partial \(v)_{\(o)}} &= "
        + "\\frac{0\\cdot \(n(sigma)) - \(n(e[t]))\\cdot \(n(e[o]))}{\(n(sigma))^2} "
        + "= -s_{\(t)}\\, s_{\(o)} = -\(n(s[t]))\\cdot \(pn(s[o])) = \(n(off))"
    }
    cases += "\n\\end{aligned}"
    d.paragraph(
      "On the diagonal ($i = n$) this is $s_i(1 - s_i)$; off it ($i \\ne n$) it is $-s_i s_n$. For $i = \(t)$:")
    d.math(cases)
    jacobian(&d)

    d.heading(3, "Step 3: the loss as a function of the probabilities")
    let dcds = r(-1 / s[t])
    if p.isOneHot {
      d.math("c = -\\log s_T, \\qquad \\frac{\\partial c}{\\partial s_i} = -\\frac{\\delta_{iT}}{s_T}")
      d.paragraph(
        "$T$ is the fixed index of the target class, not an index that is summed over: only $i = T$ gives a "
          + "non-zero derivative. Here $\\partial c/\\partial s_{\(t)} = -1/\(n(s[t])) = \(n(dcds))$, and "
          + "$\\partial c/\\partial s_i = 0$ for every other $i$.")
    } else {
      let y = ev.targetDistribution
      let grads = s.indices.map { y[$0] == 0 ? 0 : r(-y[$0] / s[$0]) }
      d.math("c = -\\sum_i y_i \\log s_i, \\qquad \\frac{\\partial c}{\\partial s_i} = -\\frac{y_i}{s_i}")
      d.paragraph("Here $\\partial c/\\partial s = \(vec(grads))$.")
    }

    d.heading(3, "Step 4: the chain rule")
    if p.isOneHot {
      d.math(
        "\\frac{\\partial c}{\\partial \(v)_n} = \\sum_i \\frac{\\partial c}{\\partial s_i}"
          + "\\frac{\\partial s_i}{\\partial \(v)_n} = -\\frac{1}{s_T}\\left(s_T\\,\\delta_{Tn} - s_T s_n\\right) "
          + "= s_n - \\delta_{Tn}")
      var lines =
        "\\begin{aligned}\n"
        + "n = \(t):&\\quad \(pn(dcds))\\cdot \(pn(diag)) = \(n(r(dcds * diag))), "
        + "&\\quad s_{\(t)} - 1 &= \(n(r(s[t] - 1)))"
      if let o = other {
        lines +=
          " \\\\\nn = \(o):&\\quad \(pn(dcds))\\cdot \(pn(off)) = \(n(r(dcds * off))), "
          + "&\\quad s_{\(o)} - 0 &= \(n(s[o]))"
      }
      d.paragraph("The sum collapses to its $i = T$ term. With the numbers of steps 2 and 3:")
      d.math(lines + "\n\\end{aligned}")
    } else {
      d.math(
        "\\frac{\\partial c}{\\partial \(v)_n} = \\sum_i \\left(-\\frac{y_i}{s_i}\\right)"
          + "\\left(s_i\\,\\delta_{in} - s_i s_n\\right) = -y_n + s_n \\sum_i y_i = s_n - y_n")
      let y = ev.targetDistribution
      let shown = [t] + (other.map { [$0] } ?? [])
      d.paragraph(
        "Because $\\sum_i y_i = 1$. Here "
          + shown.map { "$s_{\($0)} - y_{\($0)} = \(n(s[$0])) - \(n(y[$0])) = \(n(r(s[$0] - y[$0])))$" }
          .joined(separator: " and ") + ".")
    }
    d.paragraph("Every logit gets a gradient, not only the target's: the normaliser $\\sigma$ couples them all.")

    d.heading(3, "Step 5: backpropagation")
    let tauPart = p.temperature == 1 ? "" : "\\,/\\,\\tau"
    let yn = p.isOneHot ? "\\delta_{Tn}" : "y_n"
    d.math(
      "\\frac{\\partial l}{\\partial x_n} = \\frac{\\partial l}{\\partial c}\\,\\frac{\\partial c}{\\partial x_n} "
        + "= g\\,(s_n - \(yn))\(tauPart)")
    let tau = p.temperature == 1 ? "" : " / \(n(p.temperature))"
    d.paragraph(
      "For $n = \(t)$: $\(n(p.upstream))\\cdot(\(n(s[t])) - \(n(ev.targetDistribution[t])))\(tau) = "
        + "\(n(ev.gradient[t]))$. The whole gradient: $\\nabla_x l = \(vec(ev.gradient))$"
        + (p.isOneHot
          ? ", whose entries sum to $\(n(ev.gradient.reduce(0, +)))$ (exactly 0 in exact arithmetic)." : "."))

    d.heading(3, "Step 6: three numbers that must agree")
    d.paragraph(
      "The chain rule evaluated term by term, the closed form $g(s_n - y_n)/\\tau$, and a central finite "
        + "difference $g\\,\\bigl(c(x + h e_n) - c(x - h e_n)\\bigr)/2h$ with a step $h$ chosen for the precision:")
    var checks: [[String]] = []
    for k in ev.checkedClasses + (other.map { ev.checkedClasses.contains($0) ? [] : [$0] } ?? []) {
      let chain = ev.chainRule(k)
      let closed = ev.gradient[k]
      var row = ["\(k)", "$\(n(chain))$", "$\(n(closed))$"]
      if let fd = ev.finiteDifference(k) {
        row += [
          "$\(n(fd.estimate))$", "$\(n(fd.step))$", "$\(n(abs(chain - closed)))$", "$\(n(fd.error))$",
          "$\(n(fd.tolerance))$", fd.agrees ? "yes" : "no",
        ]
      } else {
        row += ["masked", "", "$\(n(abs(chain - closed)))$", "", "", ""]
      }
      checks.append(row)
    }
    d.table(
      [
        "$n$", "chain rule", "closed form", "finite difference", "$h$", "chain $-$ closed", "difference $-$ closed",
        "tolerance", "agree",
      ], checks)
  }

  func jacobian(_ d: inout Document) {
    let c = p.classes
    let scale = p.temperature == 1 ? "" : " (the entries include the factor $1/\\tau$)"
    if c <= WorkedExample.tableLimit {
      let rows = (0..<c).map { i in (0..<c).map { n(ev.jacobian(i, $0)) }.joined(separator: " & ") }
      d.paragraph("The whole Jacobian $J_{in} = \\partial s_i/\\partial x_n$\(scale):")
      d.math("J = \\begin{pmatrix}\n" + rows.joined(separator: " \\\\\n") + "\n\\end{pmatrix}")
    } else {
      d.paragraph(
        "With $C = \(grouped(c))$ the Jacobian has $C^2$ entries, so only its target row "
          + "$J_{\(t)\\cdot} = \\partial s_{\(t)}/\\partial x_\\cdot$ is shown\(scale):")
      d.math("J_{\(t)\\cdot} = \(vec(ev.jacobianRow(t)))")
    }
    let rowSum = ev.jacobianRow(t).reduce(0, +)
    d.paragraph(
      "It is symmetric, each row and column sums to 0 (row \(t) sums to $\(n(rowSum))$ here, rounding included), "
        + "and it is singular: the all-ones vector is in its null space, because adding a constant to every logit "
        + "leaves the softmax unchanged.")
  }

  func step(_ d: inout Document) {
    d.heading(2, "One gradient step")
    d.math("x' = x - \\eta\\,\\nabla_x l = \(vec(p.logits)) - \(n(p.learningRate))\\,\(vec(ev.gradient))")
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
