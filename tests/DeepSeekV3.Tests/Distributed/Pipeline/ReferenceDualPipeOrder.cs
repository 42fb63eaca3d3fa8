namespace DeepSeekV3.Tests.Distributed.Pipeline;

/// <summary>
/// A second, compact transcription of the op order of deepseek-ai/DualPipe's <c>step</c> (dualpipe.py and
/// dualpipev.py at 3da1bbe, parallel-fp8 notes §2.5), written from the reference's loops and not from our generator:
/// op strings only, no communication. Phase 0 is the direction entering at the rank's nearer end.
/// </summary>
internal static class ReferenceDualPipeOrder
{
    public static string Rank(bool v, int numRanks, int numChunks, int rank)
    {
        int halfRanks = v ? numRanks : numRanks / 2;
        int halfRank = v ? rank : Math.Min(rank, numRanks - 1 - rank);
        int chunks = v ? numChunks : numChunks / 2;
        bool secondHalf = !v && rank >= numRanks / 2, middle = halfRank == halfRanks - 1;
        int[] nextF = [0, 0], nextB = [0, 0];
        var ops = new List<string>();
        string Dir(int phase) => (phase ^ (secondHalf ? 1 : 0)) == 0 ? "a" : "b";
        string F(int phase) => $"F{Dir(phase)}{nextF[phase]++}";
        string B(int phase, bool zb = false) => $"B{Dir(phase)}{nextB[phase]++}" + (zb ? "z" : "");
        string FB(int f, int b) => $"[{F(f)}&{B(b)}]";

        int outer = halfRanks - halfRank - 1;
        for (int i = 0; i < 2 * outer; i++) ops.Add(F(0));                                    // nF0
        for (int i = 0; i < halfRank + 1; i++) ops.AddRange([F(0), F(1)]);                    // nF0F1
        for (int i = 0; i < outer; i++) ops.AddRange([B(1, true), "W", F(1)]);                // nB1W1F1
        for (int i = 0; i < chunks - 2 * halfRanks + halfRank + 1; i++)                       // nF0B1F1B0
        {
            if (i == 0 && middle) ops.AddRange([F(0), B(1)]);
            else ops.Add(FB(0, 1));
            ops.Add(FB(1, 0));
        }
        for (int i = 0; i < outer; i++) ops.AddRange([B(1), FB(1, 0)]);                      // nB1F1B0
        bool zbOn = false;
        for (int i = 0; i < halfRank + 1; i++)                                                // nB1B0
        {
            if (i == (halfRank + 1) / 2 && halfRank % 2 == 1) zbOn = true;
            ops.Add(B(1, zbOn));
            if (i == (halfRank + 1) / 2 && halfRank % 2 == 0) zbOn = true;
            ops.Add(B(0, zbOn));
        }
        for (int i = 0; i < outer; i++) ops.AddRange(["W", B(0, true)]);                      // nWB0
        for (int i = 0; i < halfRank + 1; i++) ops.Add("W");                                  // nW
        return $"rank {rank}: {string.Join(' ', ops)}";
    }
}
