using System.Globalization;
using System.Text;

namespace FlowGuide.Training;

/// <summary>
/// A per-step CSV log of a training run (one row per step, first column "step", numbers in invariant culture, an empty
/// cell for a value not measured at that step), appended and flushed row by row so curves can be plotted while the run
/// goes on. On the first row of a session, rows at or after that step (left by a session that stopped after its last
/// checkpoint) and a torn last line are dropped, so a resumed run's log reads as one uninterrupted run.
/// </summary>
public sealed class TrainingCsvLog
{
    private bool _started;

    /// <param name="path">The CSV file (created with its header when missing).</param>
    /// <param name="columns">Column names after "step".</param>
    public TrainingCsvLog(string path, IReadOnlyList<string> columns)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentNullException.ThrowIfNull(columns);
        if (columns.Count == 0 || columns.Any(c => string.IsNullOrWhiteSpace(c) || c.Contains(',') || c == "step"))
            throw new ArgumentException("TrainingCsvLog: column names must be non-empty, without commas, and not 'step'.", nameof(columns));
        Path = path;
        Columns = columns.ToArray();
    }

    public string Path { get; }

    /// <summary>Column names after "step".</summary>
    public IReadOnlyList<string> Columns { get; }

    /// <summary>
    /// Prepares the file for a session whose first row is <paramref name="firstStep"/>: keeps the header and earlier rows
    /// (rewritten through a temporary file), starts a new file when it is missing or has another header. Returns the last
    /// kept row, or null. <see cref="Append"/> calls this itself when it has not been called.
    /// </summary>
    public IReadOnlyDictionary<string, double>? Start(long firstStep)
    {
        _started = true;
        var header = "step," + string.Join(",", Columns);
        var kept = new List<string>();
        if (File.Exists(Path))
        {
            var lines = File.ReadAllLines(Path);
            if (lines.Length > 0 && lines[0] == header)
                kept.AddRange(lines.Skip(1).Where(l => l.Split(',').Length == Columns.Count + 1
                    && long.TryParse(l.AsSpan(0, l.IndexOf(',')), NumberStyles.Integer, CultureInfo.InvariantCulture, out var s) && s < firstStep));
        }
        var dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path));
        if (dir is not null) Directory.CreateDirectory(dir);
        var tmp = Path + ".tmp";
        File.WriteAllLines(tmp, kept.Prepend(header));
        File.Move(tmp, Path, overwrite: true);
        return kept.Count == 0 ? null : Parse(Columns, kept[^1]);
    }

    /// <summary>Appends the row of <paramref name="step"/>; missing or NaN values are written as empty cells.</summary>
    public void Append(long step, IReadOnlyDictionary<string, double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (!_started) Start(step);
        var sb = new StringBuilder(step.ToString(CultureInfo.InvariantCulture));
        foreach (var c in Columns)
        {
            sb.Append(',');
            if (values.TryGetValue(c, out var v) && double.IsFinite(v)) sb.Append(v.ToString("R", CultureInfo.InvariantCulture));
        }
        using var w = new StreamWriter(Path, append: true);
        w.WriteLine(sb.ToString());
    }

    /// <summary>Reads a log written by this class: one dictionary per row (with "step"); empty cells are absent.</summary>
    public static List<Dictionary<string, double>> Read(string path)
    {
        var lines = File.ReadAllLines(path);
        if (lines.Length == 0 || !lines[0].StartsWith("step,", StringComparison.Ordinal))
            throw new InvalidDataException($"TrainingCsvLog: '{path}' does not start with a 'step,...' header.");
        var columns = lines[0].Split(',').Skip(1).ToArray();
        var rows = new List<Dictionary<string, double>>();
        foreach (var line in lines.Skip(1))
        {
            if (line.Split(',').Length != columns.Length + 1) continue; // a torn last line
            rows.Add(Parse(columns, line));
        }
        return rows;
    }

    private static Dictionary<string, double> Parse(IReadOnlyList<string> columns, string line)
    {
        var cells = line.Split(',');
        var row = new Dictionary<string, double> { ["step"] = double.Parse(cells[0], CultureInfo.InvariantCulture) };
        for (int i = 0; i < columns.Count; i++)
            if (cells[i + 1].Length > 0 && double.TryParse(cells[i + 1], NumberStyles.Float, CultureInfo.InvariantCulture, out var v))
                row[columns[i]] = v;
        return row;
    }
}
