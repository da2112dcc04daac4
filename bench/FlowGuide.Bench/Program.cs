using System.Globalization;
using FlowGuide.Bench;
using FlowGuide.Tensors;
using FlowGuide.Tensors.Kernels;

// flowguide-bench [gemm] [attention] [conv3d] [block] [memory] [smallstep] [wan13b] [wan13b-flowmo] [raft] [generate [--model DIR] [--methods plain,motionprompt,...] [--runs N] [--interleave] [--seed N]] [mp-profile [--runs N] [--ops]] [--json FILE] [--threads N] [--quick]
// ("generate" times end-to-end generation on the shipped model: plain, FlowMo, FlowMotion; it is not part of "all".)
// ("all" runs every case but wan13b and wan13b-flowmo, which need ~6 GB and minutes: name them explicitly.)
// Runs the engine's benchmark cases; bench/side_by_side.py runs this and the NumPy/PyTorch reference in one go.
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
var cases = new List<string>();
string? modelPath = null;
string? jsonPath = null;
bool quick = false;
bool interleave = false;
bool ops = false;
ulong seed = 0;
List<string>? methods = null;
int? runs = null;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--json": jsonPath = args[++i]; break;
        case "--threads": Parallelism.NumThreads = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
        case "--quick": quick = true; break;
        case "--interleave": interleave = true; break;
        case "--ops": ops = true; break;
        case "--seed": seed = ulong.Parse(args[++i], CultureInfo.InvariantCulture); break;
        case "--model": modelPath = args[++i]; break;
        case "--methods": methods = args[++i].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList(); break;
        case "--runs": runs = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
        default: cases.Add(args[i]); break;
    }
}
if (cases.Count == 0 || cases.Contains("all")) cases = new() { "gemm", "attention", "conv3d", "block", "memory", "smallstep", "raft" };

Console.WriteLine($"FlowGuide engine benchmarks — {Environment.ProcessorCount} cores, {Parallelism.NumThreads} threads, GEMM backend: {Gemm.Backend}, .NET {Environment.Version}");
using var json = jsonPath is null ? null : new StreamWriter(jsonPath);
foreach (var c in cases)
{
    IEnumerable<BenchResult> results = c switch
    {
        "gemm" => Cases.Gemm(quick),
        "linear" => Cases.Linear(),
        "blockops" => Cases.BlockOps(),
        "attention" => Cases.Attention(),
        "conv3d" => Cases.Conv3d(),
        "block" => Cases.Block(),
        "memory" => Cases.Memory(),
        "smallstep" => WanCases.SmallStep(),
        "wan13b" => WanCases.Wan13B(quick),
        "wan13b-flowmo" => WanGuidedCases.Wan13BFlowMo(quick),
        "raft" => FlowCases.Raft(),
        "classical" => FlowCases.Classical(),
        "generate" => PipelineCases.Generate(modelPath, quick, methods, runs, interleave, seed),
        "mp-profile" => MotionPromptProfile.Run(modelPath, runs ?? 3, ops),
        "decoder" => DecoderCases.Run(modelPath),
        "upconv" => UpsampleConvCases.Run(),
        _ => throw new ArgumentException($"unknown benchmark case '{c}' (expected gemm, attention, conv3d, block, memory, smallstep, wan13b, wan13b-flowmo, raft, classical, generate, mp-profile or all)"),
    };
    foreach (var r in results) Harness.Print(r, json);
}
