"""Every text a visitor reads, in English and Russian, and how a handler picks the visitor's language.

Static texts (labels, tabs, buttons) go to the page through `I18N` (gr.I18n), which the browser resolves
from its own language. Texts a handler makes (hints, status lines, errors, results) are chosen on the
server with `text(lang_of(request), key, **values)`, from the request's Accept-Language header.
English is the fallback for both. To add a text: one line in STRINGS, then `I18N(key)` in the layout
or `text(lang, key, ...)` in a handler. API values (class names "0".."9", plot columns) stay as they are."""
from __future__ import annotations

import gradio as gr

LANGS = ("en", "ru")
FALLBACK = "en"

STRINGS: dict[str, tuple[str, str]] = {
    # Layout: resolved in the browser (I18N)
    "intro": ("# Handwritten digit recognizer\nDraw a digit and a small neural network (an MLP trained on MNIST "
              "and real pen-drawn digits) reads it as you draw. In the Train tab, train your own and watch it "
              "learn.",
              "# Распознавание рукописных цифр\nНарисуйте цифру, и небольшая нейросеть (MLP, обученная на MNIST "
              "и настоящих цифрах, написанных пером) прочтёт её прямо во время рисования. Во вкладке «Обучение» "
              "можно обучить свою сеть и посмотреть, как она учится."),
    "tab.draw": ("Draw", "Рисовать"),
    "tab.train": ("Train", "Обучение"),
    "pad": ("Draw one digit here", "Нарисуйте здесь одну цифру"),
    "predict": ("Predict", "Распознать"),
    "picker": ("Model (test accuracy on MNIST's 10,000 test digits)",
               "Модель (точность на 10 000 тестовых цифрах MNIST)"),
    "prediction": ("Prediction", "Ответ"),
    "hint": ("Hint", "Подсказка"),
    "probabilities": ("Probability of each digit", "Вероятность каждой цифры"),
    "seen": ("What the model saw: 28 x 28 pixels, white on black",
             "Что видит модель: 28 x 28 пикселей, белым по чёрному"),
    "train.off": ("**Training is switched off on this server.** Drawing and predicting still work.",
                  "**Обучение на этом сервере отключено.** Рисовать и распознавать можно."),
    "train.intro": ("Train a new network on MNIST with your settings. Runs are saved beside the shipped model, "
                    "which is never overwritten. One run trains at a time on this server.",
                    "Обучите новую сеть на MNIST со своими настройками. Результаты сохраняются рядом со встроенной "
                    "моделью, она не перезаписывается. На сервере одновременно идёт только одно обучение."),
    "train.space": ("**On this Space only the shipped model persists:** runs trained here are kept on the Space's "
                    "disk and vanish when it restarts.",
                    "**В этом Space сохраняется только встроенная модель:** обученные здесь модели лежат на диске "
                    "Space и пропадают при его перезапуске."),
    "epochs": ("Epochs (passes over the 55,000 training digits)", "Эпохи (проходы по 55 000 обучающих цифр)"),
    "batch_size": ("Batch size (digits per step)", "Размер батча (цифр за шаг)"),
    "lr": ("Learning rate (Adam, initial)", "Скорость обучения (Adam, начальная)"),
    "seed": ("Seed (same seed, same result)", "Seed (тот же seed, тот же результат)"),
    "lr_factor": ("LR factor (applied when valid loss stalls)",
                  "Множитель скорости (когда валидационная ошибка перестаёт падать)"),
    "lr_patience": ("LR patience (epochs without improvement)", "Терпение (эпох без улучшения)"),
    "augment": ("Augment (random rotation, slant, size, stroke width)",
                "Аугментация (случайный поворот, наклон, размер, толщина линии)"),
    "train": ("Train", "Обучить"),
    "stop": ("Stop", "Стоп"),
    "status": ("Status", "Состояние"),
    "progress": ("Progress", "Ход обучения"),
    "no_run": ("No run yet.", "Обучение ещё не запускалось."),
    "plot.train": ("Train loss", "Ошибка на обучении"),
    "plot.valid": ("Valid loss", "Ошибка на валидации"),
    "plot.lr": ("Learning rate", "Скорость обучения"),
    "result": ("Result", "Результат"),
    "use": ("Use this model in Draw", "Рисовать с этой моделью"),
    # Made by handlers: resolved on the server (text)
    "title.train": ("Train loss (batches, averaged in groups)", "Ошибка на обучении (батчи, усреднённые группами)"),
    "title.valid": ("Valid loss per epoch", "Ошибка на валидации по эпохам"),
    "title.lr": ("Learning rate per epoch", "Скорость обучения по эпохам"),
    "axis.epoch": ("epoch", "эпоха"),
    "axis.loss": ("loss", "ошибка"),
    "axis.lr": ("learning rate", "скорость"),
    "digit.empty": ("draw a digit", "нарисуйте цифру"),
    "digit.sure": ("{p:.0%} sure", "уверенность {p:.0%}"),
    "hint.empty": ("The canvas is empty: draw one digit, 0 to 9, large and centred. The answer updates after "
                   "each stroke.",
                   "Холст пуст: нарисуйте одну цифру от 0 до 9, крупно и по центру. Ответ обновляется после "
                   "каждого штриха."),
    "hint.unsure": ("**Not sure**: {a} ({pa:.0%}) or {b} ({pb:.0%})? Try one clear shape, drawn large.",
                    "**Сомневаюсь**: {a} ({pa:.0%}) или {b} ({pb:.0%})? Нарисуйте одну чёткую крупную цифру."),
    "model.kept": ("{detail}. Still using the previous model.", "{detail}. Модель не сменилась."),
    "model.shipped": ("shipped model", "встроенная модель"),
    "model.epoch1": ("1 epoch", "эпох: 1"),
    "model.epochs": ("{n} epochs", "эпох: {n}"),
    "model.stopped": (" (stopped)", " (остановлено)"),
    "model.test": ("test {acc:.2%}", "тест {acc:.2%}"),
    "model.unknown": ("test accuracy unknown", "точность неизвестна"),
    "phase.loading": ("loading MNIST", "загрузка MNIST"),
    "phase.training": ("training", "обучение"),
    "phase.stopping": ("stopping: testing and saving the best weights so far",
                       "остановка: проверка и сохранение лучших весов"),
    "phase.stopped": ("stopped", "остановлено"),
    "phase.finished": ("finished", "готово"),
    "phase.limit": ("{phase} (this server's limit of {seconds:g} s per run)",
                    "{phase} (предел сервера: {seconds:g} с на обучение)"),
    "status.epoch": ("epoch {epoch} of {epochs}", "эпоха {epoch} из {epochs}"),
    "status.valid": ("valid accuracy {acc:.2%}", "точность на валидации {acc:.2%}"),
    "status.seconds": ("{s:.0f} s", "{s:.0f} с"),
    "stop.sent": ("Stopping: testing and saving the best weights so far.",
                  "Останавливаем: проверяем и сохраняем лучшие веса."),
    "stop.none": ("You have no training run in progress to stop.", "У вас нет идущего обучения."),
    "result.saved": ("### Test accuracy {acc:.2%}\n{early}Saved as `{key}`: pick it in the Draw tab, or press "
                     "the button below.",
                     "### Точность на тесте {acc:.2%}\n{early}Сохранено как `{key}`: выберите её во вкладке "
                     "«Рисовать» или нажмите кнопку ниже."),
    "result.early": ("Stopped early; the best weights so far were kept.  \n",
                     "Остановлено досрочно; сохранены лучшие веса.  \n"),
    "result.none": ("### No model saved\n{detail}.", "### Модель не сохранена\n{detail}."),
    "err.training_off": ("Training is switched off on this server (ALLOW_TRAINING=0); drawing still works.",
                         "Обучение на этом сервере отключено (ALLOW_TRAINING=0); рисовать можно."),
    "err.busy": ("A training run is in progress ({status}). This server trains one model at a time; try again "
                 "when it ends. Drawing and predicting keep working meanwhile.",
                 "Сейчас идёт обучение ({status}). Сервер обучает одну модель за раз; попробуйте, когда оно "
                 "закончится. Рисовать и распознавать можно и сейчас."),
    # Errors from the libraries, whose own message is kept as the detail
    "lib.ImageError": ("{detail}", "Рисунок не читается: {detail}"),
    "lib.CheckpointError": ("{detail}", "Модель не загружается: {detail}"),
    "lib.ValueError": ("{detail}", "Неверная настройка: {detail}"),
    "lib.TypeError": ("{detail}", "Неверная настройка: {detail}"),
    "lib.TrainingDied": ("{detail}", "Обучение прервалось: {detail}"),
    "lib.OverServerLimit": ("{detail}", "Сервер не возьмётся за это обучение: {detail}"),
    "lib.DataError": ("{detail}", "MNIST недоступен: {detail}"),
}

I18N = gr.I18n(**{lang: {key: pair[i] for key, pair in STRINGS.items()} for i, lang in enumerate(LANGS)})


def lang_of(request: gr.Request | None) -> str:
    """The visitor's language from the Accept-Language header ("ru-RU,ru;q=0.9,en;q=0.8"): the supported
    language ranked highest, else FALLBACK. API clients that send no header get FALLBACK."""
    header = request.headers.get("accept-language", "") if request is not None else ""
    ranked = []
    for order, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                continue
        ranked.append((-q, order, tag.split("-")[0].lower()))
    return next((lang for _, _, lang in sorted(ranked) if lang in LANGS), FALLBACK)


def text(lang: str, key: str, /, **values) -> str:
    """STRINGS[key] in `lang` (FALLBACK for a language without texts), formatted with `values`."""
    pair = STRINGS[key]
    return pair[LANGS.index(lang) if lang in LANGS else 0].format(**values)


def error_text(lang: str, error: Exception) -> str:
    """A library's error for a visitor: its message, led by a sentence in `lang` where one is written."""
    key = f"lib.{type(error).__name__}"
    return text(lang, key, detail=error) if key in STRINGS else str(error)
