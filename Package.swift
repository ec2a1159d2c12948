// swift-tools-version: 6.0
import PackageDescription

let package = Package(
  name: "softmax-lab",
  platforms: [.macOS(.v13)],
  products: [
    .executable(name: "softmax-lab", targets: ["softmax-lab"]),
    .library(name: "SoftmaxCore", targets: ["SoftmaxCore"]),
    .library(name: "SoftmaxTUI", targets: ["SoftmaxTUI"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    .package(url: "https://github.com/apple/swift-numerics", from: "1.0.0"),
  ],
  targets: [
    // Pure math: softmax, log-sum-exp, losses, Jacobian, gradient, precision facts. No I/O.
    .target(
      name: "SoftmaxCore",
      dependencies: [.product(name: "RealModule", package: "swift-numerics")]
    ),
    // Reports of an evaluation as text, JSON, Markdown and LaTeX (pure string building; no I/O).
    .target(name: "SoftmaxReport", dependencies: ["SoftmaxCore"]),
    // State, actions, key map, update and views rendering into an in-memory buffer. No ncurses.
    .target(name: "SoftmaxTUI", dependencies: ["SoftmaxCore", "SoftmaxReport"]),
    // The wide-character ncurses library, reached through a small shim header.
    .systemLibrary(
      name: "CNcursesw",
      pkgConfig: "ncursesw",
      providers: [.apt(["libncurses-dev"])]
    ),
    // A plain C scalar softmax + cross-entropy kernel: the baseline `softmax-lab bench` compares against.
    .target(name: "CBaseline", cSettings: [.unsafeFlags(["-O3"])]),
    .executableTarget(
      name: "softmax-lab",
      dependencies: [
        "SoftmaxCore",
        "CBaseline",
        "SoftmaxTUI",
        "SoftmaxReport",
        "CNcursesw",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]
    ),
    .testTarget(name: "SoftmaxCoreTests", dependencies: ["SoftmaxCore"]),
    .testTarget(name: "SoftmaxReportTests", dependencies: ["SoftmaxReport", "SoftmaxCore"]),
    .testTarget(name: "SoftmaxTUITests", dependencies: ["SoftmaxTUI", "SoftmaxCore"], exclude: ["Snapshots"]),
    .testTarget(
      name: "EndToEndTests",
      dependencies: ["softmax-lab", "SoftmaxCore"]
    ),
  ],
  swiftLanguageModes: [.v6]
)
