using DeepSeekV3.Inference;
using DeepSeekV3.Tests.Modeling;

namespace DeepSeekV3.Tests.Inference;

/// <summary>The per-step MTP rule on hand-computed inputs, and MTP decoding that switches between MTP and plain steps
/// giving exactly plain greedy decoding's tokens.</summary>
public class MtpSpeculationRuleTests
{
    [Theory]
    // (1 + α)·c_plain(B) against B·c_mtp, in milliseconds:
    [InlineData(0.8, 1, 10.0, 15.0, true)]       // 18 > 15
    [InlineData(0.5, 1, 10.0, 15.0, false)]      // 15 = 15: no gain, stay plain
    [InlineData(0.8, 4, 14.0, 15.0, false)]      // 25.2 < 60: one batched pass beats four verifications
    [InlineData(0.9, 2, 40.0, 30.0, true)]       // 76 > 60: a model whose passes are dear relative to the drafter's
    [InlineData(0.0, 1, 10.0, 9.0, true)]        // 10 > 9: even with no draft accepted, a cheaper step is a win
    public void Speculates_when_its_tokens_per_second_beat_plain_steps(double acceptance, int batch, double plainMs, double mtpMs, bool expected) =>
        Assert.Equal(expected, MtpSpeculationRule.Worthwhile(acceptance, batch, plainMs / 1000, mtpMs / 1000));

    [Fact]
    public void Measures_both_modes_then_follows_the_estimates_and_probes_the_loser()
    {
        var rule = new MtpSpeculationRule();
        Assert.False(rule.UseMtp(1));                                     // plain first: nothing measured
        rule.Observe(mtp: false, batch: 1, seconds: 0.010, drafted: 0, accepted: 0);
        Assert.True(rule.UseMtp(1));                                      // then MTP once
        rule.Observe(mtp: true, batch: 1, seconds: 0.015, drafted: 1, accepted: 1);
        Assert.Equal(2.0 / 3, rule.Acceptance, 12);                       // (1 + 1) / (1 + 2)
        Assert.True(rule.UseMtp(1));                                      // 1.667·10 = 16.7 > 15
        Assert.False(rule.UseMtp(2));                                     // batch 2: plain not measured yet

        rule.Observe(mtp: true, batch: 1, seconds: 0.015, drafted: 1, accepted: 0);
        Assert.Equal(0.5, rule.Acceptance, 12);                           // 2 / 4
        Assert.False(rule.UseMtp(1));                                     // 1.5·10 = 15, not > 15
        rule.Observe(mtp: false, batch: 1, seconds: 0.020, drafted: 0, accepted: 0);   // c_plain = 10 + 0.2·(20 − 10) = 12
        Assert.True(rule.UseMtp(1));                                      // 1.5·12 = 18 > 15
        rule.Observe(mtp: true, batch: 2, seconds: 0.060, drafted: 2, accepted: 2);   // c_mtp = 15 + 0.2·(30 − 15) = 18 per sequence
        Assert.Equal(4.0 / 6, rule.Acceptance, 12);
        Assert.True(rule.UseMtp(1));                                      // 1.667·12 = 20 > 18
        Assert.Equal((3, 2), (rule.MtpSteps, rule.PlainSteps));

        // That was the 4th decision on estimates; up to the 31st follow them, the 32nd runs the losing mode once.
        for (int decision = 5; decision < MtpSpeculationRule.ProbeEvery; decision++) Assert.True(rule.UseMtp(1));
        Assert.False(rule.UseMtp(1));
        Assert.True(rule.UseMtp(1));
    }

    /// <summary>Switches by a fixed pattern of steps, to exercise every transition.</summary>
    private sealed class Pattern(params bool[] steps) : ISpeculationPolicy
    {
        private int _step;
        public int Mtp, Plain, Accepted;

        public bool UseMtp(int batch) => steps[_step++ % steps.Length];

        public void Observe(bool mtp, int batch, double seconds, int drafted, int accepted)
        {
            if (mtp) Mtp++;
            else Plain++;
            Accepted += accepted;
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Switching_between_MTP_and_plain_steps_gives_plain_greedy_tokens(bool fused)
    {
        using var model = TinyModels.Create();
        var greedy = new SamplingParams { MaxTokens = 17, IgnoreEos = true };
        var requests = new[] { (5, 0), (12, 1), (9, 2) }.Select(p => new GenerationRequest(TinyModels.Prompt(p.Item1, p.Item2), greedy)).ToList();
        var expected = new GenerationEngine(model, fused: fused).Generate(requests);

        var policy = new Pattern(true, false, false, true, true, false, true);
        using var batch = new GenerationBatch(model, blockSize: 4, fused: fused, speculative: true, speculationPolicy: policy);
        var sequences = new List<GenerationSequence> { batch.Add(requests[0]) };
        batch.Step();
        batch.Step();
        sequences.Add(batch.Add(requests[1]));                           // joins between a plain and an MTP step
        sequences.Add(batch.Add(requests[2]));
        while (batch.Step()) { }
        for (int i = 0; i < requests.Count; i++)
            Assert.Equal(expected[i].Tokens, sequences[i].Tokens);
        Assert.True(policy.Mtp > 2 && policy.Plain > 2, $"{policy.Mtp} MTP and {policy.Plain} plain steps");
        Assert.Equal(sequences.Sum(s => s.Result().AcceptedTokens), policy.Accepted);
    }
}
