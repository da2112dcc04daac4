using System.Globalization;
using System.Text;

namespace FlowGuide.Models.Text;

/// <summary>
/// A closed word list for <see cref="WordTextEncoder"/>: id = position in the list. Text is lower-cased (invariant
/// culture) and split into words (runs of letters, digits, apostrophes and hyphens inside a word) and single punctuation
/// marks; there is no unknown-token fallback, so a prompt with a word outside the list is an error that names the word.
/// </summary>
public sealed class Vocabulary
{
    private readonly string[] _words;
    private readonly Dictionary<string, int> _ids;

    /// <summary>Builds a vocabulary from <paramref name="words"/> (lower-cased; duplicates, blanks and words with spaces throw).</summary>
    public Vocabulary(IEnumerable<string> words)
    {
        ArgumentNullException.ThrowIfNull(words);
        _words = words.Select(w => w.Trim().ToLowerInvariant()).ToArray();
        _ids = new Dictionary<string, int>(_words.Length, StringComparer.Ordinal);
        for (int i = 0; i < _words.Length; i++)
        {
            var w = _words[i];
            if (w.Length == 0) throw new ArgumentException($"Vocabulary: entry {i} is empty.", nameof(words));
            if (w.Any(char.IsWhiteSpace)) throw new ArgumentException($"Vocabulary: entry {i} '{w}' contains whitespace; one word per entry.", nameof(words));
            if (!_ids.TryAdd(w, i)) throw new ArgumentException($"Vocabulary: '{w}' appears twice (entries {_ids[w]} and {i}).", nameof(words));
        }
    }

    /// <summary>Number of words (the embedding table's row count).</summary>
    public int Count => _words.Length;

    /// <summary>The words in id order.</summary>
    public IReadOnlyList<string> Words => _words;

    /// <summary>Reads a UTF-8 file with one word per line (blank lines are skipped).</summary>
    public static Vocabulary Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Vocabulary.Load: no vocabulary file at '{path}'.", path);
        return new Vocabulary(File.ReadAllLines(path, Encoding.UTF8).Where(l => l.Trim().Length > 0));
    }

    /// <summary>Writes one word per line (UTF-8, no BOM), through a temporary file renamed into place.</summary>
    public void Save(string path)
    {
        var tmp = path + ".tmp";
        File.WriteAllText(tmp, string.Join('\n', _words) + "\n", new UTF8Encoding(false));
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>True when <paramref name="word"/> (already lower-case) is in the list.</summary>
    public bool Contains(string word) => _ids.ContainsKey(word);

    /// <summary>Id of <paramref name="word"/>; throws an ArgumentException naming it when it is not in the list.</summary>
    public int this[string word] => _ids.TryGetValue(word, out var id) ? id
        : throw new ArgumentException($"Vocabulary: unknown word '{word}'.", nameof(word));

    /// <summary>The lower-cased word and punctuation pieces of <paramref name="text"/>, in order.</summary>
    public static List<string> Split(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var pieces = new List<string>();
        var lower = text.ToLowerInvariant();
        var sb = new StringBuilder();
        for (int i = 0; i < lower.Length; i++)
        {
            char c = lower[i];
            bool wordChar = char.IsLetterOrDigit(c)
                || ((c == '\'' || c == '-') && sb.Length > 0 && i + 1 < lower.Length && char.IsLetterOrDigit(lower[i + 1]));
            if (wordChar) { sb.Append(c); continue; }
            if (sb.Length > 0) { pieces.Add(sb.ToString()); sb.Clear(); }
            if (!char.IsWhiteSpace(c) && !char.IsControl(c)) pieces.Add(c.ToString(CultureInfo.InvariantCulture));
        }
        if (sb.Length > 0) pieces.Add(sb.ToString());
        return pieces;
    }

    /// <summary>
    /// Ids for <paramref name="text"/>. Every word not in the list is collected and reported in one ArgumentException,
    /// so a user sees all the words to rephrase at once.
    /// </summary>
    public int[] Encode(string text)
    {
        var pieces = Split(text);
        var unknown = pieces.Where(p => !_ids.ContainsKey(p)).Distinct().ToList();
        if (unknown.Count > 0)
            throw new ArgumentException(
                $"Tokenize: the prompt \"{text}\" has {unknown.Count} word(s) outside the model's {Count}-word vocabulary: " +
                string.Join(", ", unknown.Select(u => $"'{u}'")) + ". Rephrase with known words.", nameof(text));
        return pieces.Select(p => _ids[p]).ToArray();
    }
}
