using System.Globalization;

namespace FlowGuide.Media;

/// <summary>
/// A video as a folder of numbered images. Writing produces frame_0000.png, frame_0001.png, ... (more digits when
/// needed) in a hidden sibling folder first; the folder is then renamed into place, or, when the target folder
/// already exists, its old frame_*.png files are removed and the new ones moved in — so a failed write changes
/// nothing. Reading takes every image file (see <see cref="ImageIO.Extensions"/>) in natural name order
/// (frame2 before frame10), requires at least one and equal sizes, and skips hidden files.
/// </summary>
public static class FrameFolder
{
    public const string Prefix = "frame_";

    public static void Write(string directory, RgbVideo video)
    {
        if (string.IsNullOrWhiteSpace(directory)) throw new MediaException("cannot write frames: the output folder is empty.");
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));
        string? parent = Path.GetDirectoryName(full);
        if (parent is null || !Directory.Exists(parent))
            throw new MediaException($"cannot write frames to '{directory}': parent folder '{parent}' does not exist.", directory);
        if (File.Exists(full)) throw new MediaException($"cannot write frames to '{directory}': a file of that name exists.", directory);
        string temp = Path.Combine(parent, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        int digits = Math.Max(4, (video.FrameCount - 1).ToString(CultureInfo.InvariantCulture).Length);
        try
        {
            Directory.CreateDirectory(temp);
            for (int k = 0; k < video.FrameCount; k++)
            {
                string name = Prefix + k.ToString(new string('0', digits), CultureInfo.InvariantCulture) + ".png";
                File.WriteAllBytes(Path.Combine(temp, name), PngWriter.Encode(PngImage.FromRgb8(video.Width, video.Height, video.Frames[k])));
            }
            if (!Directory.Exists(full)) Directory.Move(temp, full);
            else
            {
                foreach (var old in Directory.GetFiles(full, Prefix + "*.png")) File.Delete(old);
                foreach (var f in Directory.GetFiles(temp)) File.Move(f, Path.Combine(full, Path.GetFileName(f)));
                Directory.Delete(temp, true);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try { if (Directory.Exists(temp)) Directory.Delete(temp, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw new MediaException($"cannot write frames to '{directory}': {e.Message}", directory, e);
        }
    }

    /// <summary>Image files of a folder in natural order.</summary>
    public static string[] List(string directory)
    {
        if (!Directory.Exists(directory))
            throw new MediaException($"cannot read frames from '{directory}': {(File.Exists(directory) ? "it is a file, expected a folder" : "folder not found")}.", directory);
        var files = Directory.GetFiles(directory)
            .Where(f => ImageIO.Extensions.Contains(Path.GetExtension(f)) && !Path.GetFileName(f).StartsWith('.'))
            .ToArray();
        Array.Sort(files, NaturalCompare);
        return files;
    }

    public static RgbVideo Read(string directory, double fps = 25, int? maxFrames = null)
    {
        var files = List(directory);
        if (files.Length == 0)
            throw new MediaException($"cannot read frames from '{directory}': no image files ({string.Join(", ", ImageIO.Extensions)}).", directory);
        if (maxFrames is int m) files = files.Take(Math.Max(1, m)).ToArray();
        // Native formats decode here; JPEGs are size-checked from their headers and decoded by one ffmpeg call.
        var frames = new byte[files.Length][];
        var jpegs = new List<int>();
        int w = 0, h = 0;
        for (int i = 0; i < files.Length; i++)
        {
            string f = files[i];
            int fw, fh;
            if (Ffmpeg.IsAvailable && Ffmpeg.JpegSize(f) is (int jw, int jh)) { (fw, fh) = (jw, jh); jpegs.Add(i); }
            else
            {
                var img = ImageIO.Read(f);
                (fw, fh) = (img.Width, img.Height);
                frames[i] = img.Pixels;
            }
            if (i == 0) (w, h) = (fw, fh);
            else if (fw != w || fh != h)
                throw new MediaException($"frame '{f}' is {fw}x{fh}; expected {w}x{h} like '{Path.GetFileName(files[0])}' (all frames in a folder must have one size).", f);
        }
        if (jpegs.Count > 0)
        {
            var decoded = Ffmpeg.ReadImages(jpegs.Select(i => files[i]).ToArray(), w, h);
            for (int j = 0; j < jpegs.Count; j++) frames[jpegs[j]] = decoded[j];
        }
        return new RgbVideo(w, h, fps, frames);
    }

    /// <summary>Compares names with digit runs as numbers ("f2" &lt; "f10"), otherwise ordinally.</summary>
    public static int NaturalCompare(string? a, string? b)
    {
        if (a is null || b is null) return string.CompareOrdinal(a, b);
        int i = 0, j = 0;
        while (i < a.Length && j < b.Length)
        {
            if (char.IsAsciiDigit(a[i]) && char.IsAsciiDigit(b[j]))
            {
                int si = i, sj = j;
                while (i < a.Length && char.IsAsciiDigit(a[i])) i++;
                while (j < b.Length && char.IsAsciiDigit(b[j])) j++;
                var da = a.AsSpan(si, i - si).TrimStart('0');
                var db = b.AsSpan(sj, j - sj).TrimStart('0');
                if (da.Length != db.Length) return da.Length.CompareTo(db.Length);
                int c = da.SequenceCompareTo(db);
                if (c != 0) return c;
                if (i - si != j - sj) return (i - si).CompareTo(j - sj); // "01" after "1"
                continue;
            }
            if (a[i] != b[j]) return a[i].CompareTo(b[j]);
            i++; j++;
        }
        return (a.Length - i).CompareTo(b.Length - j);
    }
}
