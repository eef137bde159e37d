"""check_input_shape: silent when data and model fit, a message with the fix when they do not."""

from __future__ import annotations

from studio.data import DatasetInfo, check_input_shape, load_dataset


def image_info(name: str = "image_folder", shape=(3, 64, 64)) -> DatasetInfo:
    return DatasetInfo(name=name, input_shape=shape, task="classification", class_names=["a", "b"],
                       num_outputs=2, sample_kind="image")


def test_fitting_shapes_give_none():
    assert check_input_shape(image_info(), (3, 64, 64)) is None
    sequence = load_dataset("sine", {"n_samples": 20, "steps": 8}).info
    assert check_input_shape(sequence, (8, 1)) is None
    assert check_input_shape(sequence, (None, 1)) is None  # any length


def test_image_mismatch_offers_both_fixes():
    assert check_input_shape(image_info(), (1, 28, 28)) == (
        "the dataset gives images 3x64x64 but the model's Input expects images 1x28x28: set the Input to "
        "channels 3, height 64, width 64, or set the dataset's image size to 28x28 and channels to 1")


def test_a_dataset_without_size_settings_offers_only_the_input_fix():
    message = check_input_shape(image_info("mnist", (1, 28, 28)), (1, 32, 32))
    assert message.endswith("set the Input to channels 1, height 28, width 28")


def test_channel_counts_the_dataset_cannot_make_are_not_offered():
    message = check_input_shape(image_info(), (4, 64, 64))
    assert "set the Input to channels 3, height 64, width 64" in message and "dataset's" not in message


def test_images_into_a_vector_input_suggest_a_flatten():
    message = check_input_shape(load_dataset("digits", {}).info, (64,))
    assert message == ("the dataset gives images 1x8x8 but the model's Input expects vectors of 64 features: "
                       "set the Input to kind image, channels 1, height 8, width 8 (and put a Flatten layer "
                       "after it)")


def test_vector_and_sequence_mismatches():
    iris = load_dataset("iris", {}).info
    assert check_input_shape(iris, (3,)).endswith(
        "expects vectors of 3 features: set the Input to features 4")
    memory = load_dataset("memory", {"n_samples": 20, "steps": 12}).info
    assert check_input_shape(memory, (20, 5)) == (
        "the dataset gives sequences of 12 steps x 5 features but the model's Input expects sequences of "
        "20 steps x 5 features: set the Input to length 12, features 5, or set the dataset's steps to 20")


def test_token_vocabulary_must_cover_the_ids():
    tokens = load_dataset("tokens", {"n_samples": 20}).info
    assert check_input_shape(tokens, (32,), model_vocab_size=50) is None
    assert check_input_shape(tokens, (32,), model_vocab_size=10) == (
        "the dataset's token ids go up to 49 but the model's Input has a vocab size of 10: set the Input's "
        "vocab size to 50")
