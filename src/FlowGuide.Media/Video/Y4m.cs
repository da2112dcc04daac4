using System.Text;

namespace FlowGuide.Media;

/// <summary>Y4M chroma layouts (the C tag) that FlowGuide reads and writes; all are 8-bit.</summary>
public enum Y4mChroma
{
    /// <summary>4:2:0, chroma centred (C420jpeg; also plain C420 and, approximately, C420paldv when reading).</summary>
    C420Jpeg,
    /// <summary>4:2:0, chroma co-sited with the left luma sample (C420mpeg2).</summary>
    C420Mpeg2,
    /// <summary>4:2:2, chroma co-sited with the left luma sample.</summary>
    C422,
    /// <summary>No subsampling.</summary>
    C444,
    /// <summary>Luma only (read as gray).</summary>
    Mono,
}

/// <summary>What a Y4M stream header says: size, frame rate as a ratio, chroma layout, range and frame count.</summary>
public sealed record Y4mInfo(int Width, int Height, int FpsNum, int FpsDen, Y4mChroma Chroma, YuvRange Range, char Interlace, int FrameCount)
{
    public double Fps => (double)FpsNum / FpsDen;
}

/// <summary>
/// YUV4MPEG2 (.y4m) reader and writer, natively. Colour is BT.601. The range defaults to limited (16..235), which is
/// what ffmpeg and most tools assume for Y4M; the writer records it as XCOLORRANGE=LIMITED|FULL (ffmpeg honours this
/// tag) and the reader honours the tag when present. Interlaced streams are read as progressive frames.
/// Frame headers may carry parameters; they are skipped.
/// </summary>
public static class Y4m
{
    private const string Magic = "YUV4MPEG2";

    /// <summary>Reads the whole file; frames are converted to RGB.</summary>
    public static RgbVideo Read(string path) => Read(path, out _);

    public static RgbVideo Read(string path, out Y4mInfo info)
    {
        var data = AtomicFile.ReadAll(path, "Y4M");
        MediaException Bad(string why) => new($"Y4M '{path}': {why}", path);
        if (data.Length < 10 || Encoding.ASCII.GetString(data, 0, 9) != Magic || data[9] != ' ')
            throw Bad("wrong magic; expected a file starting with 'YUV4MPEG2 '.");
        int eol = Array.IndexOf(data, (byte)'\n');
        if (eol < 0) throw Bad("truncated stream header (no newline).");
        int w = 0, h = 0, fn = 25, fd = 1;
        char interlace = 'p';
        var chroma = Y4mChroma.C420Jpeg;
        var range = YuvRange.Limited;
        foreach (var tok in Encoding.ASCII.GetString(data, 10, eol - 10).Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            string v = tok[1..];
            switch (tok[0])
            {
                case 'W': if (!int.TryParse(v, out w)) throw Bad($"bad width '{tok}'."); break;
                case 'H': if (!int.TryParse(v, out h)) throw Bad($"bad height '{tok}'."); break;
                case 'F':
                    var parts = v.Split(':');
                    if (parts.Length != 2 || !int.TryParse(parts[0], out fn) || !int.TryParse(parts[1], out fd) || fn <= 0 || fd <= 0)
                        throw Bad($"bad frame rate '{tok}'; expected F<num>:<den>.");
                    break;
                case 'I': interlace = v.Length > 0 ? v[0] : 'p'; break;
                case 'C':
                    chroma = v switch
                    {
                        "420jpeg" or "420" or "420paldv" => Y4mChroma.C420Jpeg,
                        "420mpeg2" => Y4mChroma.C420Mpeg2,
                        "422" => Y4mChroma.C422,
                        "444" => Y4mChroma.C444,
                        "mono" => Y4mChroma.Mono,
                        _ => throw Bad($"chroma 'C{v}' is not supported; expected 8-bit C420jpeg, C420mpeg2, C420paldv, C422, C444 or Cmono."),
                    };
                    break;
                case 'X':
                    if (v.StartsWith("COLORRANGE=", StringComparison.OrdinalIgnoreCase))
                        range = v[11..].Equals("FULL", StringComparison.OrdinalIgnoreCase) ? YuvRange.Full : YuvRange.Limited;
                    break;
            }
        }
        if (w <= 0 || h <= 0 || (long)w * h > 1L << 28) throw Bad($"invalid or missing size W{w} H{h}.");

        var (sx, sy) = Subsampling(chroma);
        int cw = sx ? (w + 1) / 2 : w, chh = sy ? (h + 1) / 2 : h;
        int ySize = w * h, cSize = chroma == Y4mChroma.Mono ? 0 : cw * chh;
        var siting = chroma == Y4mChroma.C420Jpeg ? ChromaSiting.Centered : ChromaSiting.Left;
        var frames = new List<byte[]>();
        int pos = eol + 1;
        var gray = new float[0];
        while (pos < data.Length)
        {
            if (data.Length - pos < 5 || Encoding.ASCII.GetString(data, pos, 5) != "FRAME")
                throw Bad($"expected 'FRAME' at byte {pos} (frame {frames.Count}).");
            int fe = Array.IndexOf(data, (byte)'\n', pos);
            if (fe < 0) throw Bad($"truncated frame header of frame {frames.Count}.");
            pos = fe + 1;
            if (data.Length - pos < ySize + 2L * cSize)
                throw Bad($"truncated frame {frames.Count}: {data.Length - pos} of {ySize + 2L * cSize} bytes.");
            var yPlane = new float[ySize];
            for (int i = 0; i < ySize; i++) yPlane[i] = data[pos + i];
            float[] cb, cr;
            if (chroma == Y4mChroma.Mono)
            {
                if (gray.Length != ySize) { gray = new float[ySize]; Array.Fill(gray, 128f); }
                cb = cr = gray;
            }
            else
            {
                cb = YCbCr.Upsample(data.AsSpan(pos + ySize, cSize), cw, chh, w, h, sx, sy, siting);
                cr = YCbCr.Upsample(data.AsSpan(pos + ySize + cSize, cSize), cw, chh, w, h, sx, sy, siting);
            }
            var rgb = new byte[ySize * 3];
            YCbCr.YuvToRgb(yPlane, cb, cr, ySize, range, rgb);
            frames.Add(rgb);
            pos += ySize + 2 * cSize;
        }
        if (frames.Count == 0) throw Bad("no frames.");
        info = new Y4mInfo(w, h, fn, fd, chroma, range, interlace, frames.Count);
        return new RgbVideo(w, h, (double)fn / fd, frames);
    }

    /// <summary>
    /// Writes <paramref name="video"/> as Y4M (atomically). 4:2:0 needs no even size: odd edges repeat the last sample.
    /// </summary>
    public static void Write(string path, RgbVideo video, Y4mChroma chroma = Y4mChroma.C420Jpeg, YuvRange range = YuvRange.Limited)
    {
        if (chroma == Y4mChroma.Mono) throw new ArgumentException("Y4m.Write: Cmono output is not supported; use C444 or a 4:2:0 layout.");
        int w = video.Width, h = video.Height, n = w * h;
        var (num, den) = FpsRatio(video.Fps);
        string tag = chroma switch
        {
            Y4mChroma.C420Jpeg => "420jpeg XYSCSS=420JPEG", Y4mChroma.C420Mpeg2 => "420mpeg2 XYSCSS=420MPEG2",
            Y4mChroma.C422 => "422 XYSCSS=422", _ => "444 XYSCSS=444",
        };
        var header = Encoding.ASCII.GetBytes(
            $"{Magic} W{w} H{h} F{num}:{den} Ip A1:1 C{tag} XCOLORRANGE={(range == YuvRange.Full ? "FULL" : "LIMITED")}\n");
        var (sx, sy) = Subsampling(chroma);
        var siting = chroma == Y4mChroma.C420Jpeg ? ChromaSiting.Centered : ChromaSiting.Left;
        var frameTag = "FRAME\n"u8.ToArray();
        AtomicFile.Write(path, s =>
        {
            s.Write(header);
            var y = new float[n];
            var cb = new float[n];
            var cr = new float[n];
            foreach (var rgb in video.Frames)
            {
                YCbCr.RgbToYuv(rgb, n, range, y, cb, cr);
                s.Write(frameTag);
                WritePlane(s, y);
                WritePlane(s, YCbCr.Downsample(cb, w, h, sx, sy, siting));
                WritePlane(s, YCbCr.Downsample(cr, w, h, sx, sy, siting));
            }
        }, "Y4M");
    }

    private static void WritePlane(Stream s, float[] plane)
    {
        var b = new byte[plane.Length];
        for (int i = 0; i < b.Length; i++) b[i] = YCbCr.Clamp(plane[i]);
        s.Write(b);
    }

    private static (bool X, bool Y) Subsampling(Y4mChroma c) => c switch
    {
        Y4mChroma.C420Jpeg or Y4mChroma.C420Mpeg2 => (true, true),
        Y4mChroma.C422 => (true, false),
        _ => (false, false),
    };

    /// <summary>A frame rate as num:den — exact for integers and the NTSC rates (n*1000/1001), else in thousandths.</summary>
    internal static (int Num, int Den) FpsRatio(double fps)
    {
        if (Math.Abs(fps - Math.Round(fps)) < 1e-9) return ((int)Math.Round(fps), 1);
        double ntsc = fps * 1001 / 1000;
        if (Math.Abs(ntsc - Math.Round(ntsc)) < 1e-6) return ((int)Math.Round(ntsc) * 1000, 1001);
        int num = (int)Math.Round(fps * 1000), den = 1000;
        int g = Gcd(num, den);
        return (num / g, den / g);
    }

    private static int Gcd(int a, int b) { while (b != 0) (a, b) = (b, a % b); return Math.Max(a, 1); }
}
