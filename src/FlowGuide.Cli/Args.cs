using System.Globalization;

namespace FlowGuide.Cli;

/// <summary>A command-line mistake: printed as one line, exit code 2.</summary>
public sealed class UsageException(string message) : Exception(message);

/// <summary>
/// Parsed arguments of one command: positional values and <c>--name value</c> / <c>--flag</c> options. Every option a
/// command reads is marked as known; <see cref="EnsureAllUsed"/> then rejects typos instead of ignoring them.
/// </summary>
public sealed class Args
{
    private readonly Dictionary<string, string?> _options = new(StringComparer.Ordinal);
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);
    private readonly HashSet<string> _missingValue = new(StringComparer.Ordinal);

    public Args(IEnumerable<string> argv, IReadOnlySet<string> flags)
    {
        var list = argv.ToList();
        for (int i = 0; i < list.Count; i++)
        {
            var a = list[i];
            if (a.StartsWith("--", StringComparison.Ordinal) && a.Length > 2)
            {
                var name = a[2..];
                string? value = null;
                int eq = name.IndexOf('=');
                if (eq >= 0) { value = name[(eq + 1)..]; name = name[..eq]; }
                else if (!flags.Contains(name))
                {
                    if (i + 1 >= list.Count) _missingValue.Add(name); // reported as unknown, or as missing when read
                    else value = list[++i];
                }
                if (!_options.TryAdd(name, value)) throw new UsageException($"option --{name} given twice");
            }
            else Positional.Add(a);
        }
    }

    public List<string> Positional { get; } = new();

    public bool Flag(string name)
    {
        _used.Add(name);
        return _options.ContainsKey(name);
    }

    public string? String(string name)
    {
        _used.Add(name);
        if (_missingValue.Contains(name)) throw new UsageException($"option --{name} needs a value");
        return _options.TryGetValue(name, out var v) ? v : null;
    }

    public string String(string name, string fallback) => String(name) ?? fallback;

    public int Int(string name, int fallback)
    {
        var s = String(name);
        if (s is null) return fallback;
        return int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v
            : throw new UsageException($"--{name} expects an integer, got '{s}'");
    }

    public float Float(string name, float fallback)
    {
        var s = String(name);
        if (s is null) return fallback;
        return float.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && float.IsFinite(v) ? v
            : throw new UsageException($"--{name} expects a number, got '{s}'");
    }

    public ulong Seed(string name, ulong fallback)
    {
        var s = String(name);
        if (s is null) return fallback;
        return ulong.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v
            : throw new UsageException($"--{name} expects a non-negative integer, got '{s}'");
    }

    /// <summary>Throws naming the first option the command did not read, or extra positional arguments.</summary>
    public void EnsureAllUsed(int maxPositional)
    {
        foreach (var k in _options.Keys)
            if (!_used.Contains(k)) throw new UsageException($"unknown option --{k}");
        if (Positional.Count > maxPositional)
            throw new UsageException($"unexpected argument '{Positional[maxPositional]}'");
    }
}
