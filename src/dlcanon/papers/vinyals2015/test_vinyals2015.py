"""Vinyals et al. (2015): Eqs. 10-13 against a step-by-step nn.LSTMCell reference (outputs and gradients), search
against teacher forcing and a hand argmax loop, the held-out split's promises, why batches are not grouped by length,
the baselines and scores by hand, an exact resume, the smallest config, and the quick claims."""

from collections import Counter

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlcanon.core.data import emoji
from dlcanon.core.testing import assert_claims, interrupt_and_resume, need, run_preset
from dlcanon.core.translation import BOS, EOS, PAD, SPECIALS, Vocab
from dlcanon.papers.vinyals2015 import experiment
from dlcanon.papers.vinyals2015.model import ShowAndTell, caption_loss


def small_model(p_drop=0.0):
    torch.manual_seed(0)
    return ShowAndTell(vocab=11, image_size=8, widths=(4, 6), embed=5, hidden=7, p_drop=p_drop).double()


def test_image_is_fed_once_at_t_minus_1_then_words():
    """Eqs. 10-12 by hand with nn.LSTMCell sharing the weights: x_{-1} = CNN(I), then x_t = W_e S_t; p_{t+1} is the
    softmax of m_t. Outputs and gradients agree with the batched forward."""
    model = small_model()
    images = torch.randn(3, 3, 8, 8, dtype=torch.float64)
    S_in = torch.tensor([[BOS, 5, 6, 7], [BOS, 4, 4, 9], [BOS, 8, 10, 5]])
    cell = torch.nn.LSTMCell(5, 7).double()
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        setattr(cell, name, getattr(model.lstm, f"{name}_l0"))
    h = c = torch.zeros(3, 7, dtype=torch.float64)
    h, c = cell(model.cnn(images), (h, c))  # t = -1: the image, no output used
    ref = []
    for t in range(S_in.shape[1]):
        h, c = cell(model.W_e(S_in[:, t]), (h, c))
        ref.append(F.log_softmax(model.out(h), -1))
    ref = torch.stack(ref, 1)
    out = model(images, S_in)
    torch.testing.assert_close(out, ref)
    g = torch.randn_like(out)
    grads = torch.autograd.grad((out * g).sum(), list(model.parameters()))
    ref_grads = torch.autograd.grad((ref * g).sum(), list(model.parameters()))
    for a, b in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(a, b)


def test_step_after_start_equals_teacher_forcing():
    """Generation (start, then step with each previous word) gives the same log p_t as the batched forward."""
    model = small_model().eval()
    images = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    S_in = torch.tensor([[BOS, 5, 6], [BOS, 9, 4]])
    _, state = model.start(images)
    steps = []
    for t in range(3):
        logp, state = model.step(S_in[:, t], state)
        steps.append(logp)
    torch.testing.assert_close(torch.stack(steps, 1), model(images, S_in))


def test_masked_forward_and_loss_are_eq_13():
    """The masked forward picks the real words' rows; the loss is -mean log p_t(S_t) over them, PAD ignored."""
    model = small_model()
    images = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    S = torch.tensor([[BOS, 5, 6, EOS], [BOS, 7, EOS, PAD]])
    full = model(images, S[:, :-1])
    mask = S[:, 1:] != PAD
    torch.testing.assert_close(model(images, S[:, :-1], mask), full[mask])
    by_hand = -(full[0, 0, 5] + full[0, 1, 6] + full[0, 2, EOS] + full[1, 0, 7] + full[1, 1, EOS]) / 5
    torch.testing.assert_close(caption_loss(full, S[:, 1:]), by_hand)
    torch.testing.assert_close(caption_loss(full[mask], S[:, 1:][mask]), by_hand)


def test_split_holds_out_compositions_whose_parts_are_seen():
    d = need(emoji.load, 16, skin_tones=True)
    codes = [str(c) for c in d["codes"]]
    part = experiment.split_emoji(codes, 0.08, 0.2)
    assert part.tolist() == experiment.split_emoji(codes, 0.08, 0.2).tolist()  # no seed: fixed
    bases, tones = zip(*(experiment.base_and_tone(c) for c in codes), strict=True)
    train_bases = {b for b, t, p in zip(bases, tones, part, strict=True) if t and p == 0}
    train_tones = {t for t, p in zip(tones, part, strict=True) if t and p == 0}
    train_names = {str(n) for n, p in zip(d["names"], part, strict=True) if p == 0}
    comp = np.flatnonzero(part == 1)
    assert 200 < len(comp) < 500
    for i in comp:
        assert tones[i] and bases[i] in train_bases and tones[i] in train_tones
        assert str(d["names"][i]) not in train_names  # so a nearest-neighbour caption cannot be exactly right
    novel_bases = {bases[i] for i in np.flatnonzero(part == 2)}
    assert novel_bases and not novel_bases & {b for b, p in zip(bases, part, strict=True) if p != 2}


def test_base_and_tone_and_halves():
    assert experiment.base_and_tone("1F44D 1F3FE") == ("1F44D", ("1F3FE",))
    assert experiment.base_and_tone("1F9D1 1F3FB 200D 2764 FE0F 200D 1F9D1 1F3FF") == (
        "1F9D1 200D 2764 FE0F 200D 1F9D1",
        ("1F3FB", "1F3FF"),
    )
    assert experiment.halves("thumbs up : medium - dark skin tone".split()) == (
        ("thumbs", "up"),
        ("medium", "-", "dark", "skin", "tone"),
    )
    assert experiment.halves(["grinning", "face"]) == (("grinning", "face"), ())


def test_most_frequent_caption_by_hand():
    caps = [["a", "b"], ["a", "c", "d"], ["a", "b", "e"], ["x"]]
    # after <s>: a (3); after a: b (2); after b: </s> 1, e 1 -> "</s>" sorts first: stop. Median length 2.
    assert experiment.most_frequent_caption(caps) == ["a", "b"]


def test_nearest_by_cosine_and_euclid():
    bank = torch.tensor([[1.0, 0.0], [0.0, 10.0], [3.0, 3.0]])
    q = torch.tensor([[5.0, 0.1], [0.5, 0.4]])
    assert experiment.nearest(q, bank, cosine=True).tolist() == [0, 2]
    assert experiment.nearest(q, bank, cosine=False).tolist() == [2, 0]


def test_caption_scores_by_hand():
    refs = [["waving", "hand", ":", "dark", "skin", "tone"], ["ok", "hand", ":", "light", "skin", "tone"]]
    hyps = [["waving", "hand", ":", "light", "skin", "tone"], ["ok", "hand", ":", "light", "skin", "tone"]]
    s = experiment.caption_scores(hyps, refs)
    assert s["category_right"] == 1.0 and s["tone_right"] == 0.5 and s["exact"] == 0.5
    assert s["bleu1"] == pytest.approx(100 * 11 / 12)
    assert experiment.caption_scores(refs, refs)["bleu4"] == pytest.approx(100.0)


def test_shuffled_batches_cover_everything_once():
    batches = experiment.shuffled_batches(10, 3, torch.Generator().manual_seed(0))
    assert [len(b) for b in batches] == [3, 3, 3, 1]
    assert sorted(torch.cat(batches).tolist()) == list(range(10))
    again = experiment.shuffled_batches(10, 3, torch.Generator().manual_seed(0))
    assert all(torch.equal(a, b) for a, b in zip(batches, again, strict=True))


def test_caption_length_tells_whether_there_is_a_skin_tone():
    """Why training batches are not grouped by caption length: a batch of one length would be almost all skin-tone
    variants or almost none, so the batch mean that batch normalisation subtracts from x_{-1} in training would
    differ, along the skin-colour features, from the running mean used at test."""
    data = need(experiment.load_data, experiment.PRESETS["smoke"], "cpu")
    train = np.flatnonzero(data["part"] == 0)
    toned = Counter()  # (length, has a tone) -> count
    for i in train:
        _, tones = experiment.base_and_tone(data["codes"][i])
        toned[int(data["lengths"][i]), bool(tones)] += 1
    by_length = sum(max(toned[n, True], toned[n, False]) for n in {n for n, _ in toned})
    share_toned = sum(v for (_, t), v in toned.items() if t) / len(train)
    assert max(share_toned, 1 - share_toned) < 0.6 and by_length / len(train) > 0.9


def test_greedy_generation_is_argmax_after_the_image():
    """generate(beam=1): feed x_{-1}, then the start word, then each step's most probable word, until the stop word."""
    model = small_model().float().eval()
    vocab = Vocab(SPECIALS + tuple("abcdefg"))
    images = torch.randn(3, 3, 8, 8)
    got = experiment.generate(model, images, beam=1, max_len=6, vocab=vocab)
    _, state = model.start(images)
    word, ended, want = torch.full((3,), BOS), torch.zeros(3, dtype=torch.bool), [[], [], []]
    for _ in range(6):
        logp, state = model.step(word, state)
        word = logp.argmax(1)
        for i in range(3):
            ended[i] |= bool(word[i] == EOS)
            if not ended[i]:
                want[i].append(vocab.words[int(word[i])])
    assert got == want


def test_resume_gives_identical_metrics(monkeypatch):
    whole, resumed = interrupt_and_resume(
        monkeypatch,
        "vinyals2015",
        experiment,
        "train_epoch",
        die_on_call=3,
        preset="smoke",
        epochs=4,
        pretrain_epochs=1,
        checkpoint_every=2,
    )
    assert resumed.metrics == whole.metrics


def test_smallest_config_runs():
    result = run_preset("vinyals2015", "smoke")
    assert result.metrics["n_comp"] > 0 and result.metrics["n_novel"] > 0
    assert (result.out_dir / "captions.png").exists() and (result.out_dir / "bleu.png").exists()


@pytest.mark.claims
def test_quick_claims():
    assert_claims(run_preset("vinyals2015", "quick"))
