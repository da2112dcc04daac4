using System.Diagnostics;

namespace FlowGuide.Tensors;

/// <summary>
/// Where a pass's time goes, op by op (a diagnosis tool: <c>flowguide-bench mp-profile --ops</c>). While
/// <see cref="Enabled"/>, every op is charged, as forward time, the wall time since the previous op finished (ops run
/// back to back, so that is its own work plus any untracked glue before it), and every backward function its own wall
/// time, including the gradient reduction and accumulation after it. Off by default; when off, an op pays one branch.
/// Only the thread that called <see cref="Start"/> is charged (ops' own worker threads and other threads' passes are not).
/// A backward pass nested in a backward function (a checkpointed segment's) is charged op by op as well as in the
/// enclosing function's total, so backward times can add up to more than the wall time.
/// </summary>
public static class OpProfile
{
    private static readonly Dictionary<string, Entry> Entries = new();
    private static long _last;
    private static int _backwardDepth;
    private static int _thread;

    /// <summary>Time per op name: forward and backward milliseconds and how many calls of each.</summary>
    public sealed class Entry
    {
        public double ForwardMs, BackwardMs;
        public int ForwardCalls, BackwardCalls;
    }

    public static bool Enabled { get; private set; }

    /// <summary>True on the profiled thread while profiling.</summary>
    internal static bool Active => Enabled && Environment.CurrentManagedThreadId == _thread;

    /// <summary>Clears the table and starts charging from now.</summary>
    public static void Start()
    {
        Entries.Clear();
        _backwardDepth = 0;
        _thread = Environment.CurrentManagedThreadId;
        Enabled = true;
        _last = Stopwatch.GetTimestamp();
    }

    /// <summary>Stops charging and returns the table, the most expensive ops (forward + backward) first.</summary>
    public static IReadOnlyList<(string Op, Entry Time)> Stop()
    {
        Enabled = false;
        return Entries.Select(kv => (kv.Key, kv.Value)).OrderByDescending(e => e.Value.ForwardMs + e.Value.BackwardMs).ToList();
    }

    internal static void OpDone(string op)
    {
        if (_backwardDepth > 0) return;                 // ops inside a backward function belong to that function
        long now = Stopwatch.GetTimestamp();
        var e = Get(op);
        e.ForwardMs += Stopwatch.GetElapsedTime(_last, now).TotalMilliseconds;
        e.ForwardCalls++;
        _last = now;
    }

    internal static long BackwardStart()
    {
        _backwardDepth++;
        return Stopwatch.GetTimestamp();
    }

    internal static void BackwardDone(string op, long start)
    {
        _backwardDepth--;
        var e = Get(op);
        e.BackwardMs += Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        e.BackwardCalls++;
        if (_backwardDepth == 0) _last = Stopwatch.GetTimestamp();
    }

    private static Entry Get(string op)
    {
        if (!Entries.TryGetValue(op, out var e)) Entries[op] = e = new Entry();
        return e;
    }
}
