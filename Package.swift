// swift-tools-version: 6.0
import PackageDescription

/// The bench's batch kernels (used only by `SoftmaxBench`, which only the `softmax-lab` executable links), compiled twice from the same source: the baseline x86-64 copy and, on x86-64 hosts,
/// an x86-64-v3 copy (AVX2 + FMA + F16C) that `BatchSoftmax` calls only when cpuid says the CPU supports it.
/// `Sources/SoftmaxKernelsV3` is a symlink to `Sources/SoftmaxKernels`. swiftc 6.3 rejects `-target-cpu x86-64-v3`
/// (the clang importer does not know the name), so `haswell` is used: its feature set is the x86-64-v3 set (plus
/// AES, PCLMUL, RDRAND, FSGSBASE, XSAVEOPT and INVPCID, which are only reached through intrinsics that this Swift
/// code does not use). This manifest is compiled for the host, so other architectures build without the v3 copy.
var kernelTargets: [Target] = [
  .target(
    name: "SoftmaxKernels",
    dependencies: [.product(name: "RealModule", package: "swift-numerics")]
  )
]
var kernelDependencies: [Target.Dependency] = ["SoftmaxKernels", "CCPUID", "SoftmaxCore"]
#if arch(x86_64)
  kernelTargets.append(
    .target(
      name: "SoftmaxKernelsV3",
      dependencies: [.product(name: "RealModule", package: "swift-numerics")],
      swiftSettings: [
        .define("SOFTMAX_V3"), .define("SOFTMAX_FMA"), .define("SOFTMAX_F16C"),
        // Release only: a debug build (`swift run`, `swift test`) does not inline the standard library's SIMD
        // generics, so both copies would define the same weak specialisations and the linker could hand AVX2 code to
        // the baseline copy. In debug the v3 copy is the same source compiled for the baseline (FMA through libm).
        .unsafeFlags(["-target-cpu", "haswell"], .when(configuration: .release)),
      ]
    ))
  kernelDependencies.append("SoftmaxKernelsV3")
#endif

let package = Package(
  name: "softmax-lab",
  platforms: [.macOS(.v13)],
  products: [
    .executable(name: "softmax-lab", targets: ["softmax-lab"]),
    .library(name: "SoftmaxCore", targets: ["SoftmaxCore"]),
    .library(name: "SoftmaxText", targets: ["SoftmaxText"]),
    .library(name: "SoftmaxTUI", targets: ["SoftmaxTUI"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    .package(url: "https://github.com/apple/swift-numerics", from: "1.0.0"),
    .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
  ],
  targets: [
    // Counts heap allocations per thread by replacing malloc; linked only into the allocation benchmark.
    .target(name: "CAllocationCounter"),
    // Heap allocations per keystroke in the explorer's update and render paths (`swift run -c release
    // softmax-lab-allocations`); `.ci/run` runs it with `--check`.
    .executableTarget(
      name: "softmax-lab-allocations",
      dependencies: ["SoftmaxTUI", "SoftmaxCore", "SoftmaxText", "CAllocationCounter"]),
    // Pure math: softmax, log-sum-exp, losses, Jacobian, gradient, precision facts. No I/O.
    .target(
      name: "SoftmaxCore",
      dependencies: [.product(name: "RealModule", package: "swift-numerics")]
    ),
    // The batch kernels' dispatch (`BatchSoftmax`, `KernelISA`) and the batch gradient check: what `bench` and
    // `gradcheck` time and check. Not part of any library product, so its unsafeFlags never reach a dependent.
    .target(
      name: "SoftmaxBench",
      dependencies: [.product(name: "RealModule", package: "swift-numerics")] + kernelDependencies
    ),
    // cpuid/xgetbv detection of the x86-64-v3 feature set, and the SOFTMAX_LAB_ISA override, for `KernelISA`.
    .target(name: "CCPUID"),
    // The core's numbers and facts in words: number formatting, the inline text line the views build, the phrasing of
    // overflow diagnoses and refusals, and the recorder the screen-truth test reads.
    .target(
      name: "SoftmaxText", dependencies: ["SoftmaxCore", .product(name: "RealModule", package: "swift-numerics")]),
    // Reports of an evaluation as text, JSON, Markdown and LaTeX (pure string building; no I/O).
    .target(name: "SoftmaxReport", dependencies: ["SoftmaxCore", "SoftmaxText"]),
    // State, actions, key map, update and views rendering into an in-memory buffer. No ncurses.
    .target(name: "SoftmaxTUI", dependencies: ["SoftmaxCore", "SoftmaxText", "SoftmaxReport"]),
    // Session files (JSON), lesson files (Markdown with YAML state blocks), their claims and the quiz: text in, values
    // out, no file I/O (the command line reads and writes the files).
    .target(
      name: "SoftmaxLesson",
      dependencies: ["SoftmaxCore", "SoftmaxText", "SoftmaxTUI", .product(name: "Yams", package: "Yams")],
      resources: [.copy("Resources/tour.md")]),
    // The wide-character ncurses library, reached through a small shim header. No `pkgConfig`: its only flags are
    // `-D_DEFAULT_SOURCE -D_XOPEN_SOURCE=600`, which SwiftPM refuses with a warning on every build; the shim asks for
    // the wide-character API itself, and Debian's libncursesw.so pulls in libtinfo.
    .systemLibrary(
      name: "CNcursesw",
      providers: [.apt(["libncurses-dev"])]
    ),
    // A plain C scalar softmax + cross-entropy kernel: the baseline `softmax-lab bench` compares against.
    .target(name: "CBaseline", cSettings: [.unsafeFlags(["-O3"])]),
    .executableTarget(
      name: "softmax-lab",
      dependencies: [
        "SoftmaxCore",
        "SoftmaxBench",
        "CBaseline",
        "SoftmaxTUI",
        "SoftmaxText",
        "SoftmaxReport",
        "SoftmaxLesson",
        "CNcursesw",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]
    ),
    .testTarget(name: "SoftmaxCoreTests", dependencies: ["SoftmaxCore", "SoftmaxText"]),
    .testTarget(name: "SoftmaxBenchTests", dependencies: ["SoftmaxBench", "SoftmaxCore"]),
    .testTarget(name: "SoftmaxReportTests", dependencies: ["SoftmaxReport", "SoftmaxCore", "SoftmaxText"]),
    .testTarget(
      name: "SoftmaxTUITests", dependencies: ["SoftmaxTUI", "SoftmaxCore", "SoftmaxText", "SoftmaxLesson"],
      exclude: ["Snapshots"]),
    .testTarget(name: "SoftmaxLessonTests", dependencies: ["SoftmaxLesson", "SoftmaxTUI", "SoftmaxCore"]),
    .testTarget(
      name: "EndToEndTests",
      dependencies: ["softmax-lab", "SoftmaxCore", "SoftmaxText", "SoftmaxTUI", "SoftmaxLesson"],
      exclude: ["Corpus"]
    ),
  ] + kernelTargets,
  swiftLanguageModes: [.v6]
)
